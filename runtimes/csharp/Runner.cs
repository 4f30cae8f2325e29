// Canopy C# runner: loads the function in /app, compiled once per build (`--compile OUT`, run by a
// worker's compile job: /app/.canopy/function is then the function's assembly) or, for a package
// that was not, compiled from /app/*.cs into /tmp at start; serves it over HTTP
// (docs/runtime-contract.md). Mono's base class library only, plus Mono.Posix for signals.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Mono.Unix;
using Mono.Unix.Native;

namespace Canopy
{
    public static class Runner
    {
        const string TextType = "text/plain; charset=utf-8";
        const int MaxErrorHeader = 1000;
        static readonly string AppDir = Environment.GetEnvironmentVariable("CANOPY_APP_DIR") ?? "/app";
        const string BuildDir = "/tmp/canopy";

        public static int Main(string[] args)
        {
            if (args.Length == 2 && args[0] == "--compile") return CompileInto(args[1]);
            ExitOnSigterm();
            string loadError;
            var handle = Load(out loadError);
            if (loadError != null) Console.Error.WriteLine(loadError);
            var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "8080");
            new HttpServer(port, request => Invoke(handle, loadError, request)).Run();
            return 0;
        }

        // As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
        static void ExitOnSigterm()
        {
            var signals = new[] { new UnixSignal(Signum.SIGTERM), new UnixSignal(Signum.SIGINT) };
            new Thread(() => { UnixSignal.WaitAny(signals); Stdlib.exit(0); }) { IsBackground = true }.Start();
        }

        // Loads the function (compiling it first unless its build did); a failure is reported per
        // request, not fatal.
        static MethodInfo Load(out string error)
        {
            error = null;
            try
            {
                Directory.CreateDirectory(BuildDir);
                var dll = Path.Combine(BuildDir, "function.dll");
                var compiled = Path.Combine(AppDir, ".canopy", "function");
                if (File.Exists(Path.Combine(AppDir, ".canopy", "compiled")) && File.Exists(compiled))
                    File.Copy(compiled, dll, true);
                else if ((error = CompileApp(dll)) != null)
                    return null;
                var handle = FindHandle(Assembly.LoadFrom(dll));
                if (handle == null) error = NoHandle();
                return handle;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(e);
                error = "loading the function failed: " + Describe(e);
                return null;
            }
        }

        // `--compile OUT`: a copy of /app with .canopy/function (the assembly) and the marker
        // .canopy/compiled; exit 1 with the compiler's output in OUT/.canopy/build.log if it fails.
        static int CompileInto(string output)
        {
            var canopy = Path.Combine(output, ".canopy");
            CopyTree(AppDir, output);
            Directory.CreateDirectory(canopy);
            Directory.CreateDirectory(BuildDir);
            var dll = Path.Combine(BuildDir, "function.dll");
            string error;
            try
            {
                error = CompileApp(dll);
                if (error == null && FindHandle(Assembly.LoadFrom(dll)) == null) error = NoHandle();
            }
            catch (Exception e)
            {
                error = "loading the function failed: " + Describe(e);
            }
            if (error != null)
            {
                File.WriteAllText(Path.Combine(canopy, "build.log"), error + "\n");
                Console.Error.WriteLine(error);
                return 1;
            }
            File.Copy(dll, Path.Combine(canopy, "function"), true);
            File.WriteAllText(Path.Combine(canopy, "compiled"), "");
            return 0;
        }

        // The function's sources (everything but .canopy/), so a compiled package still carries them.
        static void CopyTree(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var file in Directory.GetFiles(from))
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)), true);
            foreach (var dir in Directory.GetDirectories(from))
                if (Path.GetFileName(dir) != ".canopy") CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
        }

        // Compiles /app/*.cs into `dll`: null on success, else why not.
        static string CompileApp(string dll)
        {
            var sources = Directory.Exists(AppDir)
                ? Directory.GetFiles(AppDir, "*.cs", SearchOption.TopDirectoryOnly).Select(f => f.Substring(AppDir.Length).TrimStart('/')).OrderBy(f => f, StringComparer.Ordinal).ToArray()
                : new string[0];
            if (sources.Length == 0)
                return "no .cs file in " + AppDir + " (the function is a static Handle(Canopy.Request) method in Handler.cs)";
            var output = Compile(sources, dll);
            return output == null ? null : "compiling Handler.cs failed: " + output;
        }

        static string NoHandle()
        {
            var sources = Directory.GetFiles(AppDir, "*.cs", SearchOption.TopDirectoryOnly).Select(Path.GetFileName);
            return "no public static Handle(Canopy.Request) method in " + string.Join(", ", sources);
        }

        // null on success, else the compiler's messages.
        static string Compile(string[] sources, string dll)
        {
            var runner = Assembly.GetExecutingAssembly().Location;
            var args = new List<string> { "-target:library", "-optimize+", "-nologo", "-out:" + dll, "-r:" + runner,
                "-r:System.dll", "-r:System.Core.dll", "-r:Microsoft.CSharp.dll", "-r:Mono.Posix.dll" };
            args.AddRange(sources.Select(s => "\"" + s + "\""));
            var info = new ProcessStartInfo("mcs", string.Join(" ", args))
            {
                WorkingDirectory = AppDir, UseShellExecute = false,
                RedirectStandardOutput = true, RedirectStandardError = true,
            };
            info.EnvironmentVariables["TMPDIR"] = BuildDir;
            using (var process = Process.Start(info))
            {
                var stderr = process.StandardError.ReadToEndAsync();
                var stdout = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode == 0) return null;
                var lines = (stdout + "\n" + stderr.Result).Split('\n').Select(l => l.TrimEnd())
                    .Where(l => l.Length > 0 && !l.StartsWith("Compilation failed:"));
                return string.Join("\n", lines);
            }
        }

        static MethodInfo FindHandle(Assembly assembly)
        {
            var candidates = assembly.GetExportedTypes()
                .Select(t => t.GetMethod("Handle", BindingFlags.Public | BindingFlags.Static, null, new[] { typeof(Request) }, null))
                .Where(m => m != null).ToList();
            return candidates.FirstOrDefault(m => m.DeclaringType.Name == "Handler") ?? candidates.FirstOrDefault();
        }

        public static string Describe(Exception e)
        {
            return string.IsNullOrEmpty(e.Message) ? e.GetType().Name : e.GetType().Name + ": " + e.Message;
        }

        // Runs the function once: a response for the HTTP server, a 500 for any failure.
        static Answer Invoke(MethodInfo handle, string loadError, Request request)
        {
            try
            {
                if (handle == null) throw new HandlerException(loadError);
                object result;
                try
                {
                    result = handle.Invoke(null, new object[] { request });
                }
                catch (TargetInvocationException e)
                {
                    throw e.InnerException ?? e;
                }
                var task = result as Task;
                if (task != null) result = Await(task);
                return ToAnswer(result);
            }
            catch (HandlerException e)
            {
                return Fail(e.Message);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(e);
                return Fail(Describe(e));
            }
        }

        static object Await(Task task)
        {
            try
            {
                task.Wait();
            }
            catch (AggregateException e)
            {
                throw e.InnerException ?? e;
            }
            var type = task.GetType();
            var result = type.IsGenericType ? type.GetProperty("Result").GetValue(task, null) : null;
            // Task<VoidTaskResult> (an async method returning Task) has no result for the caller.
            return result != null && result.GetType().Name == "VoidTaskResult" ? null : result;
        }

        static Answer ToAnswer(object result)
        {
            var answer = new Answer { Status = 200, Headers = new List<KeyValuePair<string, string>>() };
            var body = result;
            var response = result as Response;
            if (response != null)
            {
                if (response.Status < 200 || response.Status > 599)
                    throw new HandlerException("response status must be an integer from 200 to 599, got " + response.Status);
                foreach (var header in response.Headers ?? new Dictionary<string, string>())
                {
                    if (!HttpServer.ValidName(header.Key) || !HttpServer.ValidValue(header.Value ?? ""))
                        throw new HandlerException("invalid response header \"" + header.Key + "\"");
                    answer.Headers.Add(new KeyValuePair<string, string>(header.Key, header.Value ?? ""));
                }
                answer.Status = response.Status;
                body = response.Body;
            }
            string contentType = null;
            if (body == null) answer.Body = new byte[0];
            else if (body is string) { answer.Body = Encoding.UTF8.GetBytes((string)body); contentType = TextType; }
            else if (body is byte[]) { answer.Body = (byte[])body; contentType = "application/octet-stream"; }
            else { answer.Body = Encoding.UTF8.GetBytes(Json.Serialize(body)); contentType = "application/json"; }
            if (contentType != null && !answer.Headers.Any(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
                answer.Headers.Add(new KeyValuePair<string, string>("Content-Type", contentType));
            return answer;
        }

        static Answer Fail(string message)
        {
            var safe = HeaderSafe(message);
            return new Answer
            {
                Status = 500,
                Headers = new List<KeyValuePair<string, string>>
                {
                    new KeyValuePair<string, string>("Content-Type", TextType),
                    new KeyValuePair<string, string>("X-Canopy-Error", safe.Length == 0 ? "error" : safe),
                },
                Body = Encoding.UTF8.GetBytes("error: " + message),
            };
        }

        // One printable-ASCII line, escaped the same way as the other runners.
        static string HeaderSafe(string message)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < message.Length; i++)
            {
                int code = char.ConvertToUtf32(message, i);
                if (char.IsSurrogatePair(message, i)) i++;
                if (code >= 0x20 && code < 0x7f) sb.Append((char)code);
                else if (code < 0x20 || code == 0x7f) sb.Append(' ');
                else if (code <= 0xffff) sb.AppendFormat("\\u{0:x4}", code);
                else sb.AppendFormat("\\U{0:x8}", code);
            }
            var text = sb.ToString().Trim();
            return text.Length > MaxErrorHeader ? text.Substring(0, MaxErrorHeader) : text;
        }

        // Kills every other process in the container (what a function started and left running)
        // and collects their exits, as PID 1 must.
        public static void ReapStrays()
        {
            var keep = new HashSet<int> { Syscall.getpid(), Syscall.getppid(), 1 };
            var killed = new List<int>();
            foreach (var entry in Directory.GetDirectories("/proc"))
            {
                int pid;
                if (!int.TryParse(Path.GetFileName(entry), out pid) || keep.Contains(pid)) continue;
                if (Syscall.kill(pid, Signum.SIGKILL) == 0) killed.Add(pid);
            }
            int status;
            foreach (var pid in killed) Syscall.waitpid(pid, out status, 0);
            while (Syscall.waitpid(-1, out status, WaitOptions.WNOHANG) > 0) { }
        }
    }
}
