using System.Collections.Generic;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;

namespace ModelGen.Generator.Ops;

// Built-in sequence layers: Embedding, LayerNorm, MultiHeadAttention, LSTM, GRU. Sequences are (B, T, features).
internal static partial class Layers
{
    static partial void Sequence()
    {
        // Embedding(count, dim): (B, …) token ids stored as floats → (B, …, dim); weight (count, dim).
        Layer(new LayerDef("Embedding", new[] { "count", "dim" },
            a => new List<ParamSpec> { new("weight", EquatableArray.Of(a.Size("count"), a.Size("dim")), "XavierNormal") },
            c => c.Op("Embedding", c.T(0), c.Parameter("weight")),
            a => $"Embedding {a.Size("count")} × {a.Size("dim")}"));

        // LayerNorm(features, epsilon): over the last dimension; weight ones, bias zeros.
        Layer(new LayerDef("LayerNorm", new[] { "features", "epsilon" },
            a =>
            {
                int f = a.Size("features");
                if (!(a["epsilon"] > 0)) throw new LayerError($"LayerNorm needs a positive 'epsilon', got {a["epsilon"]}");
                return new List<ParamSpec> { new("weight", EquatableArray.Of(f), "Ones"), new("bias", EquatableArray.Of(f), "Zeros") };
            },
            c =>
            {
                int x = c.T(0), f = c.Args.Size("features");
                var shape = c.ShapeOf(x);
                if (shape.Rank < 1 || shape[shape.Rank - 1] != f)
                    throw c.ShapeError($"input shape {shape} does not fit: LayerNorm expects a last dimension of {f}", x, $"(B, …, {f})");
                double eps = c.Args["epsilon"];
                return c.Op("LayerNorm", new[] { x, c.Parameter("weight"), c.Parameter("bias") }, n => n.Reals = new[] { eps });
            },
            a => $"LayerNorm {a.Size("features")}"));

        // MultiHeadAttention(dim, heads, causal): Q, K, V, O projections (dim, dim) + biases around scaled dot-product attention.
        Layer(new LayerDef("MultiHeadAttention", new[] { "dim", "heads", "causal" },
            a =>
            {
                int d = a.Size("dim"), h = a.Size("heads");
                if (d % h != 0) throw new LayerError($"MultiHeadAttention: dim {d} is not divisible by {h} heads");
                var ps = new List<ParamSpec>();
                foreach (var p in new[] { "query", "key", "value", "out" })
                {
                    ps.Add(new ParamSpec(p + "_weight", EquatableArray.Of(d, d), "XavierUniform"));
                    ps.Add(new ParamSpec(p + "_bias", EquatableArray.Of(d), "Zeros"));
                }
                return ps;
            },
            c =>
            {
                int x = c.T(0), d = c.Args.Size("dim"), heads = c.Args.Size("heads");
                bool causal = c.Args.Flag("causal");
                var shape = c.ShapeOf(x);
                if (shape.Rank != 3 || !shape.IsBatched || shape[2] != d)
                    throw c.ShapeError($"input shape {shape} does not fit: MultiHeadAttention expects (B, T, {d})");
                int Project(string p) => c.Op("Add", c.Op("MatMul", x, c.Parameter(p + "_weight")), c.Parameter(p + "_bias"));
                int q = Project("query"), k = Project("key"), v = Project("value");
                int a = c.Op("Attention", new[] { q, k, v }, n => n.Ints = new[] { heads, causal ? 1 : 0 });
                return c.Op("Add", c.Op("MatMul", a, c.Parameter("out_weight")), c.Parameter("out_bias"));
            },
            a => $"MultiHeadAttention {a.Size("dim")}, {a.Size("heads")} heads{(a.Flag("causal") ? ", causal" : "")}"));

        // LSTM(inputSize, hiddenSize) and GRU(inputSize, hiddenSize): (B, T, in) → (B, T, H), PyTorch gates, zero state.
        Layer(new LayerDef("LSTM", new[] { "inputSize", "hiddenSize" },
            a => Recurrent(a, 4),
            c =>
            {
                int x = SequenceInput(c, "LSTM");
                int xw = c.Op("Add", c.Op("Add", c.Op("MatMul", x, c.Parameter("weight_ih")), c.Parameter("bias_ih")), c.Parameter("bias_hh"));
                return c.Op("Lstm", xw, c.Parameter("weight_hh"));
            },
            a => $"LSTM {a.Size("inputSize")} → {a.Size("hiddenSize")}"));
        Layer(new LayerDef("GRU", new[] { "inputSize", "hiddenSize" },
            a => Recurrent(a, 3),
            c =>
            {
                int x = SequenceInput(c, "GRU");
                int xw = c.Op("Add", c.Op("MatMul", x, c.Parameter("weight_ih")), c.Parameter("bias_ih"));
                return c.Op("Gru", xw, c.Parameter("weight_hh"), c.Parameter("bias_hh"));
            },
            a => $"GRU {a.Size("inputSize")} → {a.Size("hiddenSize")}"));
    }

    static List<ParamSpec> Recurrent(LayerArgs a, int gates)
    {
        int i = a.Size("inputSize"), h = a.Size("hiddenSize");
        return new List<ParamSpec>
        {
            new("weight_ih", EquatableArray.Of(i, gates * h), "XavierUniform"),
            new("weight_hh", EquatableArray.Of(h, gates * h), "XavierUniform"),
            new("bias_ih", EquatableArray.Of(gates * h), "Zeros"),
            new("bias_hh", EquatableArray.Of(gates * h), "Zeros"),
        };
    }

    static int SequenceInput(LayerCall c, string layer)
    {
        int x = c.T(0), input = c.Args.Size("inputSize");
        var shape = c.ShapeOf(x);
        if (shape.Rank != 3 || !shape.IsBatched || shape[2] != input)
            throw c.ShapeError($"input shape {shape} does not fit: {layer} expects (B, T, {input})");
        return x;
    }
}
