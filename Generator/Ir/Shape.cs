using System;
using System.Linq;

namespace ModelGen.Generator.Ir;

/// <summary>
/// A static tensor shape. Dimension 0 may be the symbolic batch size B (stored as <see cref="Batch"/>);
/// every other dimension is a known constant.
/// </summary>
internal sealed class Shape : IEquatable<Shape>
{
    public const int Batch = -1;

    public static readonly Shape Scalar = new(Array.Empty<int>());

    public Shape(params int[] dims) => Dims = dims;

    public int[] Dims { get; }

    public int Rank => Dims.Length;

    public bool IsBatched => Dims.Length > 0 && Dims[0] == Batch;

    public int this[int i] => Dims[i];

    /// <summary>Elements per sample for a batched shape, else all elements.</summary>
    public int FixedCount
    {
        get
        {
            int n = 1;
            foreach (int d in Dims) if (d != Batch) n *= d;
            return n;
        }
    }

    public static Shape Batched(params int[] perSample) => new(new[] { Batch }.Concat(perSample).ToArray());

    public Shape With(int axis, int size)
    {
        var d = (int[])Dims.Clone();
        d[axis] = size;
        return new Shape(d);
    }

    public Shape Without(int axis) => new(Dims.Where((_, i) => i != axis).ToArray());

    /// <summary>The element count as C# source, e.g. "128 * B" or "10".</summary>
    public string CountExpr(string batch = "B") => Dim(FixedCount, IsBatched, batch);

    /// <summary>Product of dims [from, to) as C# source.</summary>
    public string ProductExpr(int from, int to, string batch = "B")
    {
        int n = 1;
        bool b = false;
        for (int i = from; i < to; i++)
        {
            if (Dims[i] == Batch) b = true;
            else n *= Dims[i];
        }
        return Dim(n, b, batch);
    }

    static string Dim(int n, bool batched, string batch) => batched ? (n == 1 ? batch : $"{n} * {batch}") : n.ToString();

    public string DimExpr(int axis, string batch = "B") => Dims[axis] == Batch ? batch : Dims[axis].ToString();

    public override string ToString() => Dims.Length == 0 ? "scalar" : "(" + string.Join(", ", Dims.Select(d => d == Batch ? "B" : d.ToString())) + ")";

    public bool Equals(Shape? other) => other != null && Dims.SequenceEqual(other.Dims);

    public override bool Equals(object? obj) => Equals(obj as Shape);

    public override int GetHashCode() => Dims.Aggregate(17, (h, d) => h * 31 + d);

    /// <summary>Numpy broadcasting of two shapes; null (with a reason) when they do not broadcast.</summary>
    public static Shape? Broadcast(Shape a, Shape b, out string? error)
    {
        error = null;
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Rank) >= 0 ? a.Dims[i - (rank - a.Rank)] : 1;
            int db = i - (rank - b.Rank) >= 0 ? b.Dims[i - (rank - b.Rank)] : 1;
            if (da == db) dims[i] = da;
            else if (da == 1) dims[i] = db;
            else if (db == 1) dims[i] = da;
            else
            {
                error = $"shapes {a} and {b} do not broadcast (dimension {i} is {Name(da)} vs {Name(db)})";
                return null;
            }
        }
        for (int i = 1; i < rank; i++)
        {
            if (dims[i] == Batch)
            {
                error = $"shapes {a} and {b} broadcast to {new Shape(dims)}, which moves the batch dimension B from the front";
                return null;
            }
        }
        return new Shape(dims);
    }

    static string Name(int d) => d == Batch ? "B" : d.ToString();
}
