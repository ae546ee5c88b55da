namespace ModelGen.Generator.Ops;

// User-facing sequence ops of ModelGen.Ops.
internal static partial class OpCalls
{
    static partial void Sequence()
    {
        Call("Gelu", c => c.Op("Gelu", c.T(0)));
        Call("Embedding", c => c.Op("Embedding", c.T(0), c.T(1)));
        Call("LayerNorm", c =>
        {
            double eps = c.Count > 3 ? c.Number(3) : 1e-5;
            return c.Op("LayerNorm", new[] { c.T(0), c.T(1), c.T(2) }, n => n.Reals = new[] { eps });
        });
        Call("ScaledDotProductAttention", c =>
        {
            int heads = c.Int(3);
            bool causal = c.Count > 4 && c.Bool(4);
            return c.Op("Attention", new[] { c.T(0), c.T(1), c.T(2) }, n => n.Ints = new[] { heads, causal ? 1 : 0 });
        });
        Call("LstmRecurrence", c => c.Op("Lstm", c.T(0), c.T(1)));
        Call("GruRecurrence", c => c.Op("Gru", c.T(0), c.T(1), c.T(2)));
        Call("SequenceCrossEntropy", c => c.Op("SequenceCrossEntropy", c.T(0), c.T(1)));
    }
}
