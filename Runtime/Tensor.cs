using System;

namespace ModelGen;

/// <summary>
/// A dense float32 tensor in row-major order. A tensor is either the owner of its storage or a view into an
/// arena (the parameters of a model are views into its parameter arena). Operations on tensors run eagerly with
/// plain reference kernels and record a tape, so <see cref="Backward"/> gives gradients: this is the debugging
/// mode and the oracle that compiled code is tested against.
/// </summary>
public sealed partial class Tensor
{
    readonly float[] _storage;
    readonly int _offset;
    readonly int[] _shape;

    /// <summary>Creates a zero-filled tensor of the given shape.</summary>
    public Tensor(params int[] shape) : this(new float[ShapeLength(shape)], 0, (int[])shape.Clone()) { }

    /// <summary>Creates a tensor that owns a copy of <paramref name="data"/>, viewed with the given shape.</summary>
    public Tensor(ReadOnlySpan<float> data, params int[] shape) : this(new float[ShapeLength(shape)], 0, (int[])shape.Clone())
    {
        if (data.Length != Length)
            throw new ArgumentException($"Data has {data.Length} elements but shape {FormatShape(shape)} needs {Length}.", nameof(data));
        data.CopyTo(_storage);
    }

    Tensor(float[] storage, int offset, int[] shape)
    {
        _storage = storage;
        _offset = offset;
        _shape = shape;
        Length = ShapeLength(shape);
        if (offset < 0 || offset + Length > storage.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), "The view does not fit in its storage.");
    }

    /// <summary>A tensor viewing <paramref name="storage"/> from <paramref name="offset"/>; writes go to the storage.</summary>
    internal static Tensor View(float[] storage, int offset, int[] shape) => new(storage, offset, (int[])shape.Clone());

    /// <summary>The dimensions, outermost first. A scalar has rank 0.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The elements in row-major order.</summary>
    public Span<float> Data => _storage.AsSpan(_offset, Length);

    /// <summary>The backing array and the offset of element 0 in it (for kernels that take arrays).</summary>
    internal float[] Storage => _storage;

    /// <summary>The offset of element 0 in <see cref="Storage"/>.</summary>
    internal int Offset => _offset;

    /// <summary>Dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis) => _shape[NormalizeAxis(axis, Rank)];

    /// <summary>Returns a copy of the shape.</summary>
    public int[] GetShape() => (int[])_shape.Clone();

    /// <summary>The product of the dimensions (1 for a scalar).</summary>
    public static int ShapeLength(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {FormatShape(shape)}.");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"Shape {FormatShape(shape)} has more than {int.MaxValue} elements.");
        }
        return (int)n;
    }

    /// <summary>Formats a shape as <c>(2, 3)</c>.</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 1) return $"({shape[0]})";
        return "(" + string.Join(", ", shape.ToArray()) + ")";
    }

    internal static int NormalizeAxis(int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Axis {axis} is out of range for rank {rank}.");
        return a;
    }
}
