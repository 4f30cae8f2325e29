// Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.
// Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
// fork (leaves a child running), procs (the other processes in the container).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using Canopy;

public static class Handler
{
    public static object Handle(Request request)
    {
        string mode;
        if (!request.QueryParams.TryGetValue("mode", out mode)) mode = request.Path.Trim('/').Split('/')[0];
        switch (mode)
        {
            case "":
            case "echo":
                string contentType;
                request.Headers.TryGetValue("content-type", out contentType);
                return new Response
                {
                    Status = 200,
                    Body = new Dictionary<string, object>
                    {
                        { "method", request.Method }, { "path", request.Path }, { "query", request.Query },
                        { "queryParams", request.QueryParams }, { "contentType", contentType },
                        { "json", request.Body.Length > 0 ? request.Json() : null },
                    },
                };
            case "binary":
                var data = new byte[4096];
                for (var i = 0; i < data.Length; i++) data[i] = (byte)(i % 256);
                return data;
            case "raise":
                throw new InvalidOperationException("boom requested");
            case "unicode-raise":
                throw new ArgumentException("d\u00e9j\u00e0 vu \u2603\nsecond line");
            case "string":
                return "plain string";
            case "json":
                return new object[] { 1, "two", new { three = 3 }, null, true };
            case "none":
                return null;
            case "status":
                return new Response { Status = 201, Headers = { { "X-Fixture", "yes" } }, Body = "created" };
            case "sleep":
                string seconds;
                if (!request.QueryParams.TryGetValue("seconds", out seconds)) seconds = "1";
                Thread.Sleep(TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture)));
                return "slept";
            case "fs":
                return new
                {
                    uid = Mono.Unix.Native.Syscall.getuid(), tmp = CanWrite("/tmp/probe"),
                    root = CanWrite("/probe"), app = CanWrite("/app/probe"),
                };
            case "fork":
                Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false });
                return "forked";
            case "procs":
                var me = Mono.Unix.Native.Syscall.getpid();
                int pid;
                return Directory.GetDirectories("/proc").Select(Path.GetFileName)
                    .Where(n => int.TryParse(n, out pid) && pid != me && pid != 1).Select(int.Parse).OrderBy(p => p).ToList();
            case "egress":
                return Connect(request.QueryParams["host"], int.Parse(request.QueryParams["port"]));
            default:
                return new Response { Status = 404, Body = "unknown mode " + mode };
        }
    }

    static bool CanWrite(string path)
    {
        try
        {
            File.WriteAllText(path, "x");
            File.Delete(path);
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    static object Connect(string host, int port)
    {
        using (var client = new TcpClient())
        {
            try
            {
                var attempt = client.BeginConnect(host, port, null, null);
                if (!attempt.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(2))) return new { connected = false, error = "timed out" };
                client.EndConnect(attempt);
                return new { connected = true };
            }
            catch (Exception e)
            {
                return new { connected = false, error = e.Message };
            }
        }
    }
}
