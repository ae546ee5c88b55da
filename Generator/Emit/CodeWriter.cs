using System.Text;

namespace ModelGen.Generator.Emit;

/// <summary>An indenting text writer for generated C#.</summary>
internal sealed class CodeWriter
{
    readonly StringBuilder _text = new();
    int _indent;

    public void Line(string code = "")
    {
        if (code.Length > 0) _text.Append(' ', _indent * 4).Append(code);
        _text.Append('\n');
    }

    /// <summary>Writes <paramref name="header"/> and an opening brace, indents until <see cref="Close"/>.</summary>
    public void Open(string header)
    {
        if (header.Length > 0) Line(header);
        Line("{");
        _indent++;
    }

    public void Close(string tail = "")
    {
        _indent--;
        Line("}" + tail);
    }

    /// <summary>Writes the lines of <paramref name="inner"/> (written from indentation 0) at the current indentation.</summary>
    public void Append(CodeWriter inner)
    {
        var lines = inner.ToString().Split('\n');
        for (int i = 0; i < lines.Length - 1; i++) Line(lines[i]); // the text ends with a newline
    }

    public void Indent() => _indent++;

    public void Outdent() => _indent--;

    public override string ToString() => _text.ToString();
}
