using System;

namespace ModelGen;

/// <summary>One tensor listed in a safetensors header.</summary>
public sealed class TensorEntry
{
    /// <summary>Describes a tensor of a safetensors file.</summary>
    public TensorEntry(string name, string dtype, int[] shape, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    /// <summary>The name, such as <c>hidden.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The element type as the file spells it (<c>F32</c> for ModelGen checkpoints).</summary>
    public string DType { get; }

    /// <summary>The dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>Offset of the first byte in the data buffer (after the header).</summary>
    public long DataBegin { get; }

    /// <summary>Offset one past the last byte in the data buffer.</summary>
    public long DataEnd { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType} {Tensor.FormatShape(Shape)} [{DataBegin}, {DataEnd})";
}
