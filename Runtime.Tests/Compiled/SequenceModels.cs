using ModelGen;
using static ModelGen.Ops;

// Small models using the sequence family, compiled by the generator in this test assembly. Sizes are odd so that
// every SIMD loop has a scalar tail; T is 3 to 5.
namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>Embedding of (B, 5) ids, GELU, LayerNorm and a projection: MSE against a (B, 5, 3) target.</summary>
[Model]
public partial class EmbedNormGeluModel
{
    readonly Embedding embed = new(11, 7);
    readonly LayerNorm norm = new(7);
    [Parameter(7, 3, Init = Init.XavierUniform)] public partial Tensor Head { get; }
    [Parameter(3, Init = Init.HeUniform)] public partial Tensor HeadBias { get; }

    [Forward]
    public Tensor Forward([Shape(5)] Tensor ids) => MatMul(norm.Forward(Gelu(embed.Forward(ids) * 2f)), Head) + HeadBias;

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>Non-causal self-attention (dim 9, 3 heads) with a residual connection over (B, 4, 9).</summary>
[Model]
public partial class AttentionModel
{
    readonly MultiHeadAttention attention = new(9, 3);
    [Parameter(9, 5, Init = Init.XavierUniform)] public partial Tensor Head { get; }

    [Forward]
    public Tensor Forward([Shape(4, 9)] Tensor x) => MatMul(x + attention.Forward(x), Head);

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>A one-block causal transformer over (B, 5) ids: embedding + position, LayerNorm, causal attention (dim 6, 2 heads), GELU MLP, per-position cross-entropy.</summary>
[Model]
public partial class TinyTransformerModel
{
    readonly Embedding embed = new(7, 6);
    [Parameter(5, 6, Init = Init.XavierNormal)] public partial Tensor Position { get; }
    readonly LayerNorm norm1 = new(6);
    readonly MultiHeadAttention attention = new(6, 2, causal: true);
    readonly LayerNorm norm2 = new(6);
    [Parameter(6, 11, Init = Init.XavierUniform)] public partial Tensor Up { get; }
    [Parameter(11, 6, Init = Init.XavierUniform)] public partial Tensor Down { get; }
    [Parameter(6, 7, Init = Init.XavierUniform)] public partial Tensor Head { get; }

    [Forward]
    public Tensor Forward([Shape(5)] Tensor ids)
    {
        var x = embed.Forward(ids) + Position;
        x = x + attention.Forward(norm1.Forward(x));
        x = x + MatMul(Gelu(MatMul(norm2.Forward(x), Up)), Down);
        return MatMul(x, Head);
    }

    [Loss] public Tensor Loss(Tensor logits, Tensor target) => SequenceCrossEntropy(logits, target);
}

/// <summary>LSTM 9 → 7 over (B, 4, 9), then a projection.</summary>
[Model]
public partial class LstmModel
{
    readonly LSTM lstm = new(9, 7);
    [Parameter(7, 3, Init = Init.XavierUniform)] public partial Tensor Head { get; }

    [Forward]
    public Tensor Forward([Shape(4, 9)] Tensor x) => MatMul(lstm.Forward(x), Head);

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>GRU 5 → 7 over (B, 3, 5) ids embedded, then a projection.</summary>
[Model]
public partial class GruModel
{
    readonly GRU gru = new(9, 7);
    [Parameter(7, 3, Init = Init.XavierUniform)] public partial Tensor Head { get; }

    [Forward]
    public Tensor Forward([Shape(5, 9)] Tensor x) => MatMul(Tanh(gru.Forward(x)), Head);

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}
