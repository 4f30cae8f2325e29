// A small JSON parser and serialiser: Mono's base class library offers none without System.Web.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Canopy
{
    public static class Json
    {
        const int MaxDepth = 128;

        /// <summary>Compact JSON for null, bool, numbers, strings, dictionaries with string keys,
        /// sequences, and objects by their public properties (anonymous types included).</summary>
        public static string Serialize(object value)
        {
            var sb = new StringBuilder();
            Write(value, sb, 0);
            return sb.ToString();
        }

        static void Write(object value, StringBuilder sb, int depth)
        {
            if (depth > MaxDepth) throw new HandlerException("handler returned a value that is not JSON: nested too deeply (a cycle?)");
            if (value == null) { sb.Append("null"); return; }
            if (value is bool) { sb.Append((bool)value ? "true" : "false"); return; }
            if (value is string || value is char || value is Enum) { WriteString(value.ToString(), sb); return; }
            if (value is double || value is float)
            {
                var d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d)) throw new HandlerException("handler returned a value that is not JSON: " + d + " is not a JSON number");
                sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); return;
            }
            if (value is IConvertible && IsNumber(value)) { sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture)); return; }
            var dict = value as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                var first = true;
                foreach (DictionaryEntry entry in dict)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(Convert.ToString(entry.Key, CultureInfo.InvariantCulture), sb);
                    sb.Append(':');
                    Write(entry.Value, sb, depth + 1);
                }
                sb.Append('}');
                return;
            }
            var seq = value as IEnumerable;
            if (seq != null)
            {
                sb.Append('[');
                var first = true;
                foreach (var item in seq)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(item, sb, depth + 1);
                }
                sb.Append(']');
                return;
            }
            var props = value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance);
            if (props.Length == 0) throw new HandlerException("handler returned a value that is not JSON: " + value.GetType().Name);
            sb.Append('{');
            for (var i = 0; i < props.Length; i++)
            {
                if (i > 0) sb.Append(',');
                WriteString(props[i].Name, sb);
                sb.Append(':');
                Write(props[i].GetValue(value, null), sb, depth + 1);
            }
            sb.Append('}');
        }

        static bool IsNumber(object v)
        {
            return v is int || v is long || v is short || v is byte || v is sbyte || v is uint || v is ulong || v is ushort || v is decimal;
        }

        static void WriteString(string s, StringBuilder sb)
        {
            sb.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20) sb.AppendFormat("\\u{0:x4}", (int)c); else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>Parses one JSON text.</summary>
        public static object Parse(string text)
        {
            var p = new Parser { Text = text };
            var value = p.Value(0);
            p.SkipWs();
            if (p.Pos != text.Length) throw p.Error("trailing characters");
            return value;
        }

        sealed class Parser
        {
            public string Text;
            public int Pos;

            public FormatException Error(string what) { return new FormatException("invalid JSON: " + what + " at " + Pos); }

            public void SkipWs() { while (Pos < Text.Length && " \t\r\n".IndexOf(Text[Pos]) >= 0) Pos++; }

            object Literal(string word, object value)
            {
                if (string.CompareOrdinal(Text, Pos, word, 0, word.Length) != 0) throw Error("invalid literal");
                Pos += word.Length;
                return value;
            }

            public object Value(int depth)
            {
                SkipWs();
                if (Pos >= Text.Length) throw Error("unexpected end");
                if (depth > MaxDepth) throw Error("nested too deeply");
                var c = Text[Pos];
                switch (c)
                {
                    case 'n': return Literal("null", null);
                    case 't': return Literal("true", true);
                    case 'f': return Literal("false", false);
                    case '"': return String();
                    case '[': return Array(depth);
                    case '{': return Object(depth);
                }
                if (c == '-' || char.IsDigit(c)) return Number();
                throw Error("unexpected character");
            }

            List<object> Array(int depth)
            {
                Pos++;
                var items = new List<object>();
                SkipWs();
                if (Pos < Text.Length && Text[Pos] == ']') { Pos++; return items; }
                while (true)
                {
                    items.Add(Value(depth + 1));
                    SkipWs();
                    if (Pos < Text.Length && Text[Pos] == ',') { Pos++; continue; }
                    if (Pos < Text.Length && Text[Pos] == ']') { Pos++; return items; }
                    throw Error("expected , or ]");
                }
            }

            Dictionary<string, object> Object(int depth)
            {
                Pos++;
                var pairs = new Dictionary<string, object>();
                SkipWs();
                if (Pos < Text.Length && Text[Pos] == '}') { Pos++; return pairs; }
                while (true)
                {
                    SkipWs();
                    if (Pos >= Text.Length || Text[Pos] != '"') throw Error("expected a key");
                    var key = String();
                    SkipWs();
                    if (Pos >= Text.Length || Text[Pos] != ':') throw Error("expected :");
                    Pos++;
                    pairs[key] = Value(depth + 1);
                    SkipWs();
                    if (Pos < Text.Length && Text[Pos] == ',') { Pos++; continue; }
                    if (Pos < Text.Length && Text[Pos] == '}') { Pos++; return pairs; }
                    throw Error("expected , or }");
                }
            }

            object Number()
            {
                var start = Pos;
                while (Pos < Text.Length && "+-.eE0123456789".IndexOf(Text[Pos]) >= 0) Pos++;
                double d;
                if (!double.TryParse(Text.Substring(start, Pos - start), NumberStyles.Float, CultureInfo.InvariantCulture, out d)) throw Error("bad number");
                return d;
            }

            string String()
            {
                Pos++;
                var sb = new StringBuilder();
                while (true)
                {
                    if (Pos >= Text.Length) throw Error("unterminated string");
                    var c = Text[Pos++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Error("control character in string");
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= Text.Length) throw Error("unterminated string");
                    var e = Text[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > Text.Length) throw Error("short \\u escape");
                            int code;
                            if (!int.TryParse(Text.Substring(Pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out code)) throw Error("bad \\u escape");
                            sb.Append((char)code); // surrogate pairs arrive as two escapes, as UTF-16 wants
                            Pos += 4;
                            break;
                        default: throw Error("bad escape");
                    }
                }
            }
        }
    }
}
