// The C# runner's HTTP/1.1 server: a thread per connection, keep-alive, Content-Length and chunked
// request bodies, every response with a Content-Length.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Canopy
{
    /// <summary>What goes back to the client.</summary>
    public sealed class Answer
    {
        public int Status;
        public List<KeyValuePair<string, string>> Headers;
        public byte[] Body;
    }

    sealed class BadRequest : Exception
    {
        public BadRequest(string message) : base(message) { }
    }

    public sealed class HttpServer
    {
        const string HealthPath = "/__canopy/health";
        const int MaxLine = 16 * 1024;
        readonly int port;
        readonly Func<Request, Answer> invoke;

        public HttpServer(int port, Func<Request, Answer> invoke)
        {
            this.port = port;
            this.invoke = invoke;
        }

        public void Run()
        {
            var listener = new TcpListener(IPAddress.Any, port);
            listener.Start();
            Console.Error.WriteLine("canopy csharp runner listening on :" + port);
            while (true)
            {
                var client = listener.AcceptTcpClient();
                new Thread(() => Serve(client)) { IsBackground = true }.Start();
            }
        }

        void Serve(TcpClient client)
        {
            // Nagle's algorithm plus the client's delayed ACK would hold small responses ~40 ms.
            client.NoDelay = true;
            using (client)
            using (var stream = new BufferedStream(client.GetStream()))
            {
                try
                {
                    while (true)
                    {
                        bool keepAlive;
                        var request = ReadRequest(stream, out keepAlive);
                        if (request == null) return;
                        var invoked = !(request.Method == "GET" && request.Path == HealthPath);
                        var answer = invoked ? invoke(request) : Text(200, "ok");
                        Write(stream, request.Method, answer, keepAlive);
                        // The response is out; nothing the function started may outlive its task in
                        // a warm container that the next task of the function reuses.
                        if (invoked) Runner.ReapStrays();
                        if (!keepAlive) return;
                    }
                }
                catch (BadRequest e)
                {
                    Write(stream, "GET", Text(400, "bad request: " + e.Message), false);
                }
                catch (IOException) { } // the client went away
                catch (SocketException) { }
                catch (ObjectDisposedException) { }
            }
        }

        static Answer Text(int status, string text)
        {
            return new Answer
            {
                Status = status,
                Headers = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("Content-Type", "text/plain; charset=utf-8") },
                Body = Encoding.UTF8.GetBytes(text),
            };
        }

        static Request ReadRequest(Stream stream, out bool keepAlive)
        {
            keepAlive = false;
            var line = ReadLine(stream);
            while (line == "") line = ReadLine(stream); // tolerate blank lines between requests
            if (line == null) return null;
            var parts = line.Split(new[] { ' ' }, 3);
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.")) throw new BadRequest("malformed request line");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (true)
            {
                var header = ReadLine(stream);
                if (header == null) throw new BadRequest("connection closed in the headers");
                if (header == "") break;
                var colon = header.IndexOf(':');
                if (colon <= 0) throw new BadRequest("malformed header");
                var name = header.Substring(0, colon).Trim().ToLowerInvariant();
                var value = header.Substring(colon + 1).Trim();
                string previous;
                headers[name] = headers.TryGetValue(name, out previous) ? previous + ", " + value : value;
            }
            string connection;
            headers.TryGetValue("connection", out connection);
            connection = (connection ?? "").ToLowerInvariant();
            keepAlive = parts[2] == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";
            var target = parts[1];
            var q = target.IndexOf('?');
            var query = q < 0 ? "" : target.Substring(q + 1);
            return new Request
            {
                Method = parts[0], Path = q < 0 ? target : target.Substring(0, q), Query = query,
                QueryParams = ParseQuery(query), Headers = headers, Body = ReadBody(stream, headers),
            };
        }

        // null at the end of the stream.
        static string ReadLine(Stream stream)
        {
            var bytes = new List<byte>();
            while (true)
            {
                var b = stream.ReadByte();
                if (b < 0) return bytes.Count == 0 ? null : Fail<string>("connection closed in a line");
                if (b == '\n') break;
                if (bytes.Count >= MaxLine) throw new BadRequest("line too long");
                bytes.Add((byte)b);
            }
            if (bytes.Count > 0 && bytes[bytes.Count - 1] == '\r') bytes.RemoveAt(bytes.Count - 1);
            return Encoding.UTF8.GetString(bytes.ToArray());
        }

        static T Fail<T>(string message) { throw new BadRequest(message); }

        static byte[] ReadBody(Stream stream, Dictionary<string, string> headers)
        {
            string value;
            if (headers.TryGetValue("transfer-encoding", out value) && value.ToLowerInvariant().Contains("chunked"))
                return ReadChunked(stream);
            if (!headers.TryGetValue("content-length", out value) || value == "") return new byte[0];
            long length;
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > int.MaxValue)
                throw new BadRequest("invalid Content-Length");
            return ReadExactly(stream, (int)length);
        }

        static byte[] ReadChunked(Stream stream)
        {
            var body = new MemoryStream();
            while (true)
            {
                var line = ReadLine(stream) ?? Fail<string>("connection closed in a chunk");
                int size;
                if (!int.TryParse(line.Split(';')[0].Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out size) || size < 0)
                    throw new BadRequest("invalid chunk size");
                if (size == 0)
                {
                    while (!string.IsNullOrEmpty(ReadLine(stream))) { } // trailers carry nothing the function needs
                    return body.ToArray();
                }
                var chunk = ReadExactly(stream, size);
                body.Write(chunk, 0, chunk.Length);
                ReadLine(stream);
            }
        }

        static byte[] ReadExactly(Stream stream, int size)
        {
            var data = new byte[size];
            var read = 0;
            while (read < size)
            {
                var n = stream.Read(data, read, size - read);
                if (n <= 0) throw new BadRequest("connection closed in the body");
                read += n;
            }
            return data;
        }

        // a=1&b=x+y&a=2 → {a: 2, b: "x y"}: the last value of a repeated name wins.
        static Dictionary<string, string> ParseQuery(string query)
        {
            var result = new Dictionary<string, string>();
            foreach (var pair in query.Split('&'))
            {
                if (pair.Length == 0) continue;
                var eq = pair.IndexOf('=');
                var name = eq < 0 ? pair : pair.Substring(0, eq);
                var value = eq < 0 ? "" : pair.Substring(eq + 1);
                result[WebUtility.UrlDecode(name)] = WebUtility.UrlDecode(value);
            }
            return result;
        }

        static void Write(Stream stream, string method, Answer answer, bool keepAlive)
        {
            // 204 and 304 carry no body, and a stray one would break keep-alive framing.
            var body = answer.Status == 204 || answer.Status == 304 ? new byte[0] : answer.Body;
            var head = new StringBuilder();
            head.Append("HTTP/1.1 ").Append(answer.Status).Append(' ').Append(Reason(answer.Status)).Append("\r\n");
            foreach (var header in answer.Headers)
            {
                var lower = header.Key.ToLowerInvariant();
                if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection") continue;
                head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
            }
            head.Append("Content-Length: ").Append(body.Length).Append("\r\nServer: canopy-csharp\r\n");
            if (!keepAlive) head.Append("Connection: close\r\n");
            head.Append("\r\n");
            var bytes = Encoding.UTF8.GetBytes(head.ToString());
            stream.Write(bytes, 0, bytes.Length);
            if (method != "HEAD") stream.Write(body, 0, body.Length);
            stream.Flush();
        }

        static string Reason(int status)
        {
            switch (status)
            {
                case 200: return "OK";
                case 201: return "Created";
                case 204: return "No Content";
                case 400: return "Bad Request";
                case 404: return "Not Found";
                case 500: return "Internal Server Error";
                default: return "Status";
            }
        }

        // RFC 9110 token and field-value.
        public static bool ValidName(string name)
        {
            if (string.IsNullOrEmpty(name)) return false;
            foreach (var c in name)
                if (!(c < 0x7f && (char.IsLetterOrDigit(c) || "!#$%&'*+-.^_`|~".IndexOf(c) >= 0))) return false;
            return true;
        }

        public static bool ValidValue(string value)
        {
            foreach (var c in value)
                if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
            return true;
        }
    }
}
