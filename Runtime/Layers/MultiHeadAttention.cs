using System;

namespace ModelGen;

/// <summary>
/// Multi-head self-attention over (B, T, dim): q = x·Wq + bq, k = x·Wk + bk, v = x·Wv + bv (each W (dim, dim),
/// Xavier-uniform; biases zero), y = attention(q, k, v)·Wo + bo with softmax(q·kᵀ/√(dim/heads)) per head, and with
/// <c>causal</c> each position attends only to itself and earlier ones. Parameters <c>query_weight</c>, <c>query_bias</c>,
/// <c>key_…</c>, <c>value_…</c>, <c>out_…</c>. The residual connection is the caller's <c>x + …</c>.
/// </summary>
public sealed class MultiHeadAttention : IModule
{
    static readonly string[] Names = { "query", "key", "value", "out" };
    readonly Tensor[] _weights = new Tensor[4];
    readonly Tensor[] _biases = new Tensor[4];

    /// <summary>Attention of <paramref name="dim"/> features split into <paramref name="heads"/> heads (dim must be divisible by heads).</summary>
    public MultiHeadAttention(int dim, int heads, bool causal = false) : this(dim, heads, causal, Linear.DefaultSeed) { }

    /// <summary>As <see cref="MultiHeadAttention(int, int, bool)"/>, with weights drawn from <paramref name="seed"/>.</summary>
    public MultiHeadAttention(int dim, int heads, bool causal, int seed)
    {
        SequenceLayer.Positive(dim, nameof(dim), "MultiHeadAttention");
        SequenceLayer.Positive(heads, nameof(heads), "MultiHeadAttention");
        if (dim % heads != 0) throw new ArgumentException($"MultiHeadAttention: dim {dim} is not divisible by {heads} heads.", nameof(heads));
        Dim = dim;
        Heads = heads;
        Causal = causal;
        var rng = new Random(seed);
        for (int i = 0; i < 4; i++)
        {
            _weights[i] = SequenceLayer.Parameter(Names[i] + "_weight", Init.XavierUniform, rng, dim, dim);
            _biases[i] = SequenceLayer.Parameter(Names[i] + "_bias", Init.Zeros, rng, dim);
        }
    }

    /// <summary>The model width.</summary>
    public int Dim { get; }

    /// <summary>The number of heads.</summary>
    public int Heads { get; }

    /// <summary>Whether the attention is causal (masked to earlier positions).</summary>
    public bool Causal { get; }

    /// <summary>The weight of projection <paramref name="index"/> (0 query, 1 key, 2 value, 3 output), shape (dim, dim).</summary>
    public Tensor Weight(int index) => _weights[index];

    /// <summary>The bias of projection <paramref name="index"/>, shape (dim).</summary>
    public Tensor Bias(int index) => _biases[index];

    /// <summary>Self-attention: (B, T, dim) → (B, T, dim).</summary>
    public Tensor Forward(Tensor x)
    {
        var q = Ops.MatMul(x, _weights[0]) + _biases[0];
        var k = Ops.MatMul(x, _weights[1]) + _biases[1];
        var v = Ops.MatMul(x, _weights[2]) + _biases[2];
        var a = Ops.ScaledDotProductAttention(q, k, v, Heads, Causal);
        return Ops.MatMul(a, _weights[3]) + _biases[3];
    }

    /// <summary>Points the eight parameters at <c>{prefix}.{query|key|value|out}_{weight|bias}</c> of <paramref name="store"/>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        var w = new Tensor[4];
        var b = new Tensor[4];
        for (int i = 0; i < 4; i++)
        {
            w[i] = SequenceLayer.Bind("MultiHeadAttention", store, prefix, Names[i] + "_weight", _weights[i]);
            b[i] = SequenceLayer.Bind("MultiHeadAttention", store, prefix, Names[i] + "_bias", _biases[i]);
        }
        w.CopyTo(_weights, 0);
        b.CopyTo(_biases, 0);
    }
}
