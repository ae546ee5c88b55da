using ModelGen;
using static ModelGen.Ops;

namespace ModelGen.Benchmarks;

/// <summary>The transformer block of the CharTransformer sample (Samples/CharTransformer/CharTransformer.cs), compiled here.</summary>
[Module]
public partial class BenchBlock
{
    readonly LayerNorm norm1;
    readonly MultiHeadAttention attention;
    readonly LayerNorm norm2;

    /// <summary>The MLP's first weight (width → 4 × width).</summary>
    [Parameter(64, 256, Init = Init.XavierUniform)] public partial Tensor Up { get; }

    /// <summary>The MLP's first bias.</summary>
    [Parameter(256, Init = Init.Zeros)] public partial Tensor UpBias { get; }

    /// <summary>The MLP's second weight (4 × width → width).</summary>
    [Parameter(256, 64, Init = Init.XavierUniform)] public partial Tensor Down { get; }

    /// <summary>The MLP's second bias.</summary>
    [Parameter(64, Init = Init.Zeros)] public partial Tensor DownBias { get; }

    /// <summary>A pre-norm block of <paramref name="width"/> with <paramref name="heads"/> causal attention heads.</summary>
    public BenchBlock(int width, int heads)
    {
        norm1 = new LayerNorm(width);
        attention = new MultiHeadAttention(width, heads, causal: true);
        norm2 = new LayerNorm(width);
    }

    /// <summary>x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with a GELU MLP of 4× width.</summary>
    [Forward]
    public Tensor Forward(Tensor x)
    {
        x = x + attention.Forward(norm1.Forward(x));
        return x + MatMul(Gelu(MatMul(norm2.Forward(x), Up) + UpBias), Down) + DownBias;
    }
}

/// <summary>
/// The CharTransformer sample (Samples/CharTransformer/CharTransformer.cs), compiled here: a character-level
/// transformer language model of 96 symbols, a context of 64, width 64, two causal blocks of 4 heads, a learned
/// position embedding, a final LayerNorm and a linear head. Input: (B, 64) symbol ids stored as floats; output:
/// (B, 64, 96) next-character logits; loss: the mean cross-entropy over all positions against one-hot targets.
/// </summary>
[Model]
public partial class BenchCharTransformer
{
    /// <summary>The context length (characters per window).</summary>
    public const int Context = 64;

    /// <summary>The number of symbols (printable ASCII and newline).</summary>
    public const int Vocabulary = 96;

    readonly Embedding tokens = new(96, 64);
    readonly BenchBlock[] blocks = Repeat(2, () => new BenchBlock(64, 4));
    readonly LayerNorm final = new(64);

    /// <summary>The learned position embedding.</summary>
    [Parameter(64, 64, Init = Init.XavierNormal)] public partial Tensor Position { get; }

    /// <summary>The output head's weight.</summary>
    [Parameter(64, 96, Init = Init.XavierUniform)] public partial Tensor Head { get; }

    /// <summary>The output head's bias.</summary>
    [Parameter(96, Init = Init.Zeros)] public partial Tensor HeadBias { get; }

    /// <summary>Next-character logits at every position of the windows.</summary>
    [Forward]
    public Tensor Forward([Shape(64)] Tensor ids)
    {
        var x = tokens.Forward(ids) + Position;
        for (int i = 0; i < blocks.Length; i++) x = blocks[i].Forward(x);
        return MatMul(final.Forward(x), Head) + HeadBias;
    }

    /// <summary>The mean cross-entropy over all positions against the one-hot targets.</summary>
    [Loss]
    public Tensor Loss(Tensor logits, Tensor target) => SequenceCrossEntropy(logits, target);
}
