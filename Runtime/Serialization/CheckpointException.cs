using System;
using System.Collections.Generic;
using System.IO;

namespace ModelGen;

/// <summary>
/// A checkpoint file that cannot be loaded: malformed, truncated, or not matching the model. <see cref="Problems"/>
/// lists every problem found (the message lists them too); the model was not changed.
/// </summary>
public sealed class CheckpointException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with the problems found.</summary>
    public CheckpointException(string path, IReadOnlyList<string> problems, Exception? inner = null)
        : base(Format(path, problems), inner)
    {
        Path = path;
        Problems = problems;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Every problem found, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }

    static string Format(string path, IReadOnlyList<string> problems)
    {
        if (problems.Count == 1) return $"Cannot load checkpoint '{path}': {problems[0]}";
        return $"Cannot load checkpoint '{path}': {problems.Count} problems:" + Environment.NewLine + "  - "
            + string.Join(Environment.NewLine + "  - ", problems);
    }
}
