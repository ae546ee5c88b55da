using System.Globalization;
using System.Linq;
using System.Text;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Emit;

/// <summary>Identifiers and literals for generated code.</summary>
internal static class Names
{
    /// <summary>"blocks.2.fc1" becomes "blocks_2_fc1"; a leading digit gets an underscore.</summary>
    public static string Identifier(string path)
    {
        var sb = new StringBuilder();
        foreach (char c in path) sb.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    /// <summary>"blocks.2.fc1" becomes "Blocks2Fc1"; "" becomes "Body".</summary>
    public static string Pascal(string path)
    {
        if (path.Length == 0) return "Body";
        var sb = new StringBuilder();
        foreach (var part in path.Split('.', '_').Where(p => p.Length > 0))
            sb.Append(char.ToUpperInvariant(part[0])).Append(part.Substring(1));
        return sb.Length > 0 && char.IsDigit(sb[0]) ? "_" + sb : sb.ToString();
    }

    /// <summary>A float literal: "2f", "(-0.5f)", "1E-05f".</summary>
    public static string Float(double value)
    {
        string s = ((float)value).ToString("R", CultureInfo.InvariantCulture) + "f";
        return value < 0 ? "(" + s + ")" : s;
    }

    /// <summary>"new[] { 784, 128 }" (the batch dimension is left out by callers).</summary>
    public static string IntArray(System.Collections.Generic.IEnumerable<int> values)
    {
        string items = string.Join(", ", values);
        return items.Length == 0 ? "Array.Empty<int>()" : "new[] { " + items + " }";
    }

    /// <summary>A per-sample offset or length as C#: "0", "B", "128 * B".</summary>
    public static string PerSample(int floats) => floats == 0 ? "0" : floats == 1 ? "B" : floats + " * B";

    /// <summary>Escapes text for a string literal.</summary>
    public static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Makes text safe for a one-line comment.</summary>
    public static string Comment(string s) => s.Replace("\r", " ").Replace("\n", " ").Replace("*/", "* /");
}
