namespace ModelGen;

/// <summary>
/// A one-layer GRU over a static sequence, batch first: (B, T, inputSize) → every hidden state (B, T, hiddenSize),
/// from a zero initial state, with PyTorch's gates and gate order (r, z, n; n = tanh(x·W_in + b_in + r·(h·W_hn + b_hn))):
/// <c>weight_ih</c> (in, 3H), <c>weight_hh</c> (H, 3H), <c>bias_ih</c> and <c>bias_hh</c> (3H).
/// </summary>
public sealed class GRU : RecurrentLayer
{
    /// <summary>A GRU from <paramref name="inputSize"/> features to <paramref name="hiddenSize"/> hidden units.</summary>
    public GRU(int inputSize, int hiddenSize) : this(inputSize, hiddenSize, Linear.DefaultSeed) { }

    /// <summary>As <see cref="GRU(int, int)"/>, with weights drawn from <paramref name="seed"/>.</summary>
    public GRU(int inputSize, int hiddenSize, int seed) : base("GRU", 3, inputSize, hiddenSize, seed) { }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.GruRecurrence(Ops.MatMul(x, WeightIh) + BiasIh, WeightHh, BiasHh);
}
