using ModelGen;
using static ModelGen.Ops;

namespace CharTransformerSample;

/// <summary>A pre-norm transformer block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with a GELU MLP of 4× width.</summary>
[Module]
public partial class Block
{
    readonly LayerNorm norm1;
    readonly MultiHeadAttention attention;
    readonly LayerNorm norm2;

    [Parameter(64, 256, Init = Init.XavierUniform)] public partial Tensor Up { get; }
    [Parameter(256, Init = Init.Zeros)] public partial Tensor UpBias { get; }
    [Parameter(256, 64, Init = Init.XavierUniform)] public partial Tensor Down { get; }
    [Parameter(64, Init = Init.Zeros)] public partial Tensor DownBias { get; }

    public Block(int width, int heads)
    {
        norm1 = new LayerNorm(width);
        attention = new MultiHeadAttention(width, heads, causal: true);
        norm2 = new LayerNorm(width);
    }

    [Forward]
    public Tensor Forward(Tensor x)
    {
        x = x + attention.Forward(norm1.Forward(x));
        return x + MatMul(Gelu(MatMul(norm2.Forward(x), Up) + UpBias), Down) + DownBias;
    }
}

/// <summary>
/// A character-level transformer language model: 96 symbols, a context of 64 characters, width 64, two causal
/// blocks of 4 heads, a learned position embedding, a final LayerNorm and a linear head. Input: (B, 64) symbol ids
/// stored as floats; output: (B, 64, 96) next-character logits at every position; loss: the mean cross-entropy over
/// all positions against one-hot targets (B, 64, 96).
/// </summary>
[Model]
public partial class CharTransformer
{
    public const int Context = 64;

    readonly Embedding tokens = new(96, 64);
    readonly Block[] blocks = Repeat(2, () => new Block(64, 4));
    readonly LayerNorm final = new(64);

    [Parameter(64, 64, Init = Init.XavierNormal)] public partial Tensor Position { get; }
    [Parameter(64, 96, Init = Init.XavierUniform)] public partial Tensor Head { get; }
    [Parameter(96, Init = Init.Zeros)] public partial Tensor HeadBias { get; }

    [Forward]
    public Tensor Forward([Shape(64)] Tensor ids)
    {
        var x = tokens.Forward(ids) + Position;
        for (int i = 0; i < blocks.Length; i++) x = blocks[i].Forward(x);
        return MatMul(final.Forward(x), Head) + HeadBias;
    }

    [Loss]
    public Tensor Loss(Tensor logits, Tensor target) => SequenceCrossEntropy(logits, target);
}
