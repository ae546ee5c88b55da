using System;
using Microsoft.CodeAnalysis.Text;

namespace ModelGen.Generator.Tests;

/// <summary>Source with one span marked as <c>[|...|]</c>: the text without the markers, and the span.</summary>
public sealed record Markup(string Source, TextSpan Span)
{
    public static Markup Parse(string marked)
    {
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        int end = marked.IndexOf("|]", StringComparison.Ordinal);
        if (start < 0 || end < start || marked.IndexOf("[|", start + 2, StringComparison.Ordinal) >= 0)
            throw new ArgumentException("mark exactly one span with [| and |]", nameof(marked));
        string source = marked.Remove(end, 2).Remove(start, 2);
        return new Markup(source, TextSpan.FromBounds(start, end - 2));
    }

    public string SpanText => Source.Substring(Span.Start, Span.Length);
}
