// The types a C# function exchanges with the Canopy runner (docs/runtime-contract.md, "C#"):
// the function is a public static Handle(Canopy.Request) method on a public class, usually Handler.
using System;
using System.Collections.Generic;
using System.Text;

namespace Canopy
{
    /// <summary>One task's HTTP request.</summary>
    public sealed class Request
    {
        public string Method { get; internal set; }
        /// <summary>The raw path, without the query string.</summary>
        public string Path { get; internal set; }
        /// <summary>The raw query without "?", "" when none.</summary>
        public string Query { get; internal set; }
        /// <summary>Each query parameter's last value.</summary>
        public Dictionary<string, string> QueryParams { get; internal set; }
        /// <summary>Header names in lowercase (lookups ignore case); repeated headers joined with ", ".</summary>
        public Dictionary<string, string> Headers { get; internal set; }
        public byte[] Body { get; internal set; }

        /// <summary>The body decoded as UTF-8.</summary>
        public string Text() { return Encoding.UTF8.GetString(Body); }

        /// <summary>The body parsed as JSON: Dictionary&lt;string, object&gt;, List&lt;object&gt;, double, string, bool or null.</summary>
        public object Json() { return Canopy.Json.Parse(Text()); }

        public override string ToString() { return string.Format("Request({0} {1}?{2}, {3} bytes)", Method, Path, Query, Body.Length); }
    }

    /// <summary>
    /// A response: Status (200 unless set), Headers, Body. A string Body is text/plain; charset=utf-8,
    /// byte[] is application/octet-stream, null is empty, anything else is JSON.
    /// </summary>
    public sealed class Response
    {
        public int Status = 200;
        public Dictionary<string, string> Headers = new Dictionary<string, string>();
        public object Body;
    }

    /// <summary>The function failed: its message becomes the 500 body and the X-Canopy-Error header.</summary>
    public sealed class HandlerException : Exception
    {
        public HandlerException(string message) : base(message) { }
    }
}
