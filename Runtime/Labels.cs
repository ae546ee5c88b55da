using System;

namespace ModelGen;

/// <summary>Integer class labels, one per sample in a batch: the target of a classification loss.</summary>
public sealed class Labels
{
    readonly int[] _values;

    /// <summary>Wraps a copy of <paramref name="values"/>; each must be a class index in [0, classes).</summary>
    public Labels(ReadOnlySpan<int> values) => _values = values.ToArray();

    /// <summary>The labels.</summary>
    public ReadOnlySpan<int> Values => _values;

    /// <summary>The number of labels.</summary>
    public int Count => _values.Length;

    /// <summary>Label <paramref name="index"/>.</summary>
    public int this[int index] => _values[index];
}
