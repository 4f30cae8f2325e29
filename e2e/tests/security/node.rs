//! A scripted node: the gateway's WebSocket driven frame by frame, as an attacker would.

use std::time::Duration;

use canopy_shared::protocol::{
    DispatcherMessage, Hello, Resources, WorkerMessage, PROTOCOL_VERSION,
};
use canopy_shared::Lang;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct ScriptedNode {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl ScriptedNode {
    /// Connects with `token`, says hello as node `node_id` (Python, 1 GiB) and reads the welcome.
    pub async fn connect(base: &str, node_id: &str, token: &str) -> ScriptedNode {
        let mut request = format!("{}/v1/worker/connect", base.replacen("http", "ws", 1))
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the upgrade is accepted");
        let mut node = ScriptedNode { socket };
        node.send(&WorkerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            node_id: node_id.to_owned(),
            version: "scripted".into(),
            resources: Resources {
                cpus: 2,
                memory_mb: 1024,
                arch: "x86_64".into(),
                os: "linux".into(),
                runtimes: vec![Lang::Py],
                max_concurrency: 4,
                allows_privileged: false,
                allows_egress: false,
                allows_custom_images: false,
                compiles: Vec::new(),
                energy: None,
            },
            warm_functions: vec![],
            running: vec![],
        }))
        .await;
        match node.recv(Duration::from_secs(10)).await {
            Some(DispatcherMessage::Welcome(_)) => node,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, message: &WorkerMessage) {
        let text = serde_json::to_string(message).expect("encode");
        self.socket.send(Message::text(text)).await.expect("send");
    }

    /// The next protocol message within `within`; None when the socket closed or nothing came.
    pub async fn recv(&mut self, within: Duration) -> Option<DispatcherMessage> {
        let next = async {
            loop {
                match self.socket.next().await?.ok()? {
                    Message::Text(text) => {
                        return Some(serde_json::from_str(&text).expect("a protocol message"))
                    }
                    Message::Close(_) => return None,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(within, next).await.ok().flatten()
    }

    /// The TCP stream under the WebSocket, to write frames no honest client would.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self.socket.get_mut() {
            MaybeTlsStream::Plain(tcp) => tcp,
            _ => panic!("the test socket is plain TCP"),
        }
    }
}
