//! The HTTP side: one `reqwest` client with the server's URL and a bearer token, turning
//! problem documents into `CliError::Api` so every command reports failures the same way.

use canopy_shared::api::{Page, Problem};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// A client for one server, authenticated or not.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> CliResult<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("canopy-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| CliError::Config(format!("cannot build an HTTP client: {error}")))?;
        Ok(Api {
            http,
            base: crate::config::normalize_url(base),
            token: None,
        })
    }

    /// The same server with `token` as the bearer token.
    pub fn with_token(mut self, token: String) -> Api {
        self.token = Some(token);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` (starting with `/`), with the token when there is one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request`; any answer but 2xx is an error (a problem document when the API sent one).
    pub async fn send(&self, request: RequestBuilder) -> CliResult<Response> {
        let response = self.send_raw(request).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(problem_of(response).await)
        }
    }

    /// Sends `request` and returns whatever came back, errors included.
    pub async fn send_raw(&self, request: RequestBuilder) -> CliResult<Response> {
        request.send().await.map_err(|source| CliError::Connection {
            url: self.base.clone(),
            source,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        let response = self.send(self.request(Method::GET, path)).await?;
        decode(response).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        let response = self
            .send(self.request(Method::POST, path).json(body))
            .await?;
        decode(response).await
    }

    /// Every item of a numbered list (`{pageCount, results}`: endpoints, triggers, schedules).
    pub async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, String)],
    ) -> CliResult<Vec<T>> {
        let mut items = Vec::new();
        let mut page = 1i64;
        loop {
            let request = self
                .request(Method::GET, path)
                .query(&[("page", page.to_string()), ("limit", "999".to_owned())])
                .query(filters);
            let response: Page<T> = decode(self.send(request).await?).await?;
            items.extend(response.results);
            if page >= response.page_count {
                return Ok(items);
            }
            page += 1;
        }
    }

    /// A request whose success has no body worth reading (204s).
    pub async fn call<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> CliResult<()> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await.map(drop)
    }
}

/// Reads a JSON body as `T`.
pub async fn decode<T: DeserializeOwned>(response: Response) -> CliResult<T> {
    let url = response.url().path().to_owned();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| CliError::Unexpected(format!("{url}: reading the body: {error}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| CliError::Unexpected(format!("{url}: not the expected JSON: {error}")))
}

/// The error a failed response stands for: its problem document, or one made from its status.
pub async fn problem_of(response: Response) -> CliError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    CliError::Api(Box::new(parse_problem(status, &text)))
}

/// A problem document from a body; bodies that are not one become `HTTP_<status>`.
pub fn parse_problem(status: StatusCode, text: &str) -> Problem {
    serde_json::from_str::<Problem>(text).unwrap_or_else(|_| Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        code: format!("HTTP_{}", status.as_u16()),
        detail: text.chars().take(500).collect::<String>().trim().to_owned(),
        errors: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_keep_their_code_and_fields() {
        let text = r#"{"type":"about:blank","title":"Not Found","status":404,"code":"FUNCTION_NOT_FOUND","detail":"no function"}"#;
        let problem = parse_problem(StatusCode::NOT_FOUND, text);
        assert_eq!(problem.code, "FUNCTION_NOT_FOUND");
        assert_eq!(problem.status, 404);
    }

    #[test]
    fn other_error_bodies_become_http_status_codes() {
        let problem = parse_problem(StatusCode::BAD_GATEWAY, "<html>proxy error</html>");
        assert_eq!(problem.code, "HTTP_502");
        assert_eq!(problem.detail, "<html>proxy error</html>");
    }
}
