using System;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace ModelGen;

public sealed partial class Tensor
{
    /// <summary>The value of a one-element tensor (a scalar such as a loss).</summary>
    public float Item()
    {
        if (Length != 1)
            throw new InvalidOperationException($"Item needs a tensor with one element, but this tensor has shape {FormatShape(_shape)}.");
        return _storage[_offset];
    }

    /// <summary>A copy of the elements in row-major order.</summary>
    public float[] ToArray() => Data.ToArray();

    /// <summary>
    /// A view of the same storage with another shape of the same length; one dimension may be -1 (inferred).
    /// Gradients flow back through it.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var resolved = (int[])shape.Clone();
        int inferred = -1, known = 1;
        for (int i = 0; i < resolved.Length; i++)
        {
            if (resolved[i] == -1)
            {
                if (inferred >= 0) throw new ArgumentException($"Reshape: shape {FormatShape(shape)} has more than one -1.", nameof(shape));
                inferred = i;
            }
            else if (resolved[i] < 0) throw new ArgumentException($"Reshape: shape {FormatShape(shape)} has a negative dimension.", nameof(shape));
            else known *= resolved[i];
        }
        if (inferred >= 0)
        {
            if (known == 0 || Length % known != 0)
                throw new ArgumentException($"Reshape: cannot view shape {FormatShape(_shape)} ({Length} elements) as {FormatShape(shape)}.", nameof(shape));
            resolved[inferred] = Length / known;
        }
        if (ShapeLength(resolved) != Length)
            throw new ArgumentException($"Reshape: cannot view shape {FormatShape(_shape)} ({Length} elements) as {FormatShape(shape)} ({ShapeLength(resolved)} elements).", nameof(shape));

        var view = new Tensor(_storage, _offset, resolved);
        return Record(view, "Reshape", new[] { this }, static (dy, dx) => dy.CopyTo(dx[0]!, 0));
    }

    /// <summary>
    /// The flat (row-major) index of the largest element; the first one on ties. A NaN has no place in the order, so a
    /// tensor holding one is refused (an <see cref="InvalidOperationException"/> names its index) rather than answered
    /// with an index that looks like a real one.
    /// </summary>
    public int ArgMax()
    {
        if (Length == 0) throw new InvalidOperationException("ArgMax of an empty tensor.");
        var data = Data;
        int best = 0;
        for (int i = 0; i < data.Length; i++)
        {
            if (float.IsNaN(data[i])) throw NaNInArgMax(i);
            if (data[i] > data[best]) best = i;
        }
        return best;
    }

    InvalidOperationException NaNInArgMax(int flat) =>
        new($"ArgMax of a tensor of shape {FormatShape(_shape)} holding NaN (at flat index {flat}): NaN has no order. Check the inputs and parameters that produced it.");

    /// <summary>
    /// The index of the largest element along <paramref name="axis"/> for every position of the other dimensions,
    /// in row-major order of those positions (for a (B, C) tensor and axis -1: the class of each row). A NaN is refused
    /// as in <see cref="ArgMax()"/>.
    /// </summary>
    public int[] ArgMax(int axis)
    {
        var (outer, size, inner) = Reference.SplitAtAxis(_shape, axis);
        if (size == 0) throw new InvalidOperationException($"ArgMax along an empty axis of shape {FormatShape(_shape)}.");
        var data = Data;
        var result = new int[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * size * inner + i, best = 0;
                for (int a = 0; a < size; a++)
                {
                    float v = data[start + a * inner];
                    if (float.IsNaN(v)) throw NaNInArgMax(start + a * inner);
                    if (v > data[start + best * inner]) best = a;
                }
                result[o * inner + i] = best;
            }
        return result;
    }

    /// <summary>The element at the given coordinates (one per dimension; negative counts from the end).</summary>
    [IndexerName("Element")] // "Item" is the name of the Item() method
    public float this[params int[] index]
    {
        get => _storage[_offset + FlatIndex(index)];
        set => _storage[_offset + FlatIndex(index)] = value;
    }

    int FlatIndex(int[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length != Rank)
            throw new ArgumentException($"Tensor of shape {FormatShape(_shape)} needs {Rank} indices, got {index.Length}.", nameof(index));
        int flat = 0;
        for (int d = 0; d < Rank; d++)
        {
            int i = index[d] < 0 ? index[d] + _shape[d] : index[d];
            if ((uint)i >= (uint)_shape[d])
                throw new IndexOutOfRangeException($"Index {index[d]} is out of range for dimension {d} of size {_shape[d]} (shape {FormatShape(_shape)}).");
            flat = flat * _shape[d] + i;
        }
        return flat;
    }

    /// <summary>The shape and the first few values, such as <c>Tensor(2, 3) [1, 2, 3, 4, 5, 6]</c>.</summary>
    public override string ToString()
    {
        const int Shown = 8;
        var text = new StringBuilder("Tensor").Append(FormatShape(_shape)).Append(" [");
        var data = Data;
        for (int i = 0; i < Math.Min(Shown, data.Length); i++)
        {
            if (i > 0) text.Append(", ");
            text.Append(data[i].ToString("G6", CultureInfo.InvariantCulture));
        }
        if (data.Length > Shown) text.Append(", … (").Append(data.Length).Append(" values)");
        text.Append(']');
        if (RequiresGrad) text.Append(IsLeaf ? " requires grad" : " grad from ").Append(IsLeaf ? "" : _node!.Op);
        return text.ToString();
    }
}
