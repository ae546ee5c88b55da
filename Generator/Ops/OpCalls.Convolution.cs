using System.Linq;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

// The image and layout ops of ModelGen.Ops. Their axes count the per-sample dimensions, as every op's do
// (OpCall.Axis): the batch always stays first.
internal static partial class OpCalls
{
    static partial void Convolution()
    {
        Call("GlobalAvgPool", c => c.Op("GlobalAvgPool", c.T(0)));
        Call("Flatten", c =>
        {
            int x = c.T(0);
            var s = Batched(c, x);
            return c.Op("Reshape", new[] { x }, n => n.Like = Shape.Batched(s.FixedCount));
        });
        Call("Reshape", c =>
        {
            int x = c.T(0);
            var s = Batched(c, x);
            int[] dims = ReshapeDims(c, s, c.Int(1), c.Int(2), c.Int(3));
            return c.Op("Reshape", new[] { x }, n => n.Like = Shape.Batched(dims));
        });
        Call("Transpose", c =>
        {
            int x = c.T(0);
            var s = Batched(c, x);
            int a = c.Axis(x, 1), b = c.Axis(x, 2);
            var perm = Enumerable.Range(0, s.Rank).ToArray();
            (perm[a], perm[b]) = (perm[b], perm[a]);
            return c.Op("Permute", new[] { x }, n => n.Ints = perm);
        });
        Call("Permute", c =>
        {
            int x = c.T(0);
            var s = Batched(c, x);
            int rank = s.Rank - 1;
            var given = Enumerable.Range(1, 4).Select(c.Int).ToArray();
            var perm = given.Take(rank).ToArray();
            if (rank > 4 || rank < 2 || given.Skip(rank).Any(a => a != -1) || perm.Any(a => a < 0 || a >= rank) || perm.Distinct().Count() != rank)
                throw new CompileError("MG0002", "Permute", $"({string.Join(", ", given)}) is not a permutation of the {rank} per-sample axes of {s}");
            var full = new[] { 0 }.Concat(perm.Select(a => a + 1)).ToArray();
            return c.Op("Permute", new[] { x }, n => n.Ints = full);
        });
        Call("Concat", c =>
        {
            int a = c.T(0), b = c.T(1);
            Batched(c, a);
            int axis = c.Axis(a, 2);
            return c.Op("Concat", new[] { a, b }, n => n.Axis = axis);
        });
        Call("Slice", c =>
        {
            int x = c.T(0);
            Batched(c, x);
            int axis = c.Axis(x, 1), start = c.Int(2), length = c.Int(3);
            return c.Op("Slice", new[] { x }, n => { n.Axis = axis; n.Ints = new[] { start, length }; });
        });
    }

    static Shape Batched(OpCall c, int x)
    {
        var s = c.Graph[x].Shape;
        if (!s.IsBatched) throw new CompileError("MG0002", c.Name, $"{s} has no batch dimension; {c.Name} works on batched tensors (B, ...)");
        return s;
    }

    static int[] ReshapeDims(OpCall c, Shape s, int d1, int d2, int d3)
    {
        int count = s.FixedCount;
        var dims = d3 != 0 ? new[] { d1, d2, d3 } : d2 != 0 ? new[] { d1, d2 } : new[] { d1 };
        string target = "(B, " + string.Join(", ", dims) + ")";
        if (d2 == 0 && d3 != 0 || dims.Any(d => d == 0 || d < -1) || dims.Count(d => d == -1) > 1)
            throw new CompileError("MG0002", "Reshape", $"cannot reshape {s} to {target}: dimensions must be positive, with at most one -1 and zeros only at the end");
        int known = dims.Where(d => d > 0).Aggregate(1, (a, b) => a * b);
        if (dims.Contains(-1))
        {
            if (count % known != 0) throw new CompileError("MG0002", "Reshape", $"cannot reshape {s} to {target}: {count} values per sample do not divide into {known}");
            dims[System.Array.IndexOf(dims, -1)] = count / known;
        }
        else if (known != count)
            throw new CompileError("MG0002", "Reshape", $"cannot reshape {s} to {target}: {count} values per sample, not {known}");
        return dims;
    }
}
