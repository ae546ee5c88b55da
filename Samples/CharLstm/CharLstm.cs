using ModelGen;
using static ModelGen.Ops;

namespace CharLstmSample;

/// <summary>
/// A character-level LSTM language model: 96 symbols embedded in 48 dimensions, one LSTM of 192 hidden units over a
/// context of 64 characters (zero initial state), and a linear head at every position. Input: (B, 64) symbol ids
/// stored as floats; output: (B, 64, 96) next-character logits; loss: the mean cross-entropy against one-hot targets.
/// </summary>
[Model]
public partial class CharLstm
{
    public const int Context = 64;

    readonly Embedding tokens = new(96, 48);
    readonly LSTM lstm = new(48, 192);

    [Parameter(192, 96, Init = Init.XavierUniform)] public partial Tensor Head { get; }
    [Parameter(96, Init = Init.Zeros)] public partial Tensor HeadBias { get; }

    [Forward]
    public Tensor Forward([Shape(64)] Tensor ids) => MatMul(lstm.Forward(tokens.Forward(ids)), Head) + HeadBias;

    [Loss]
    public Tensor Loss(Tensor logits, Tensor target) => SequenceCrossEntropy(logits, target);
}
