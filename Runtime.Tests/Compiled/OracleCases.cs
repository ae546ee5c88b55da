using System.Collections.Generic;
using System.Linq;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// The test models of each op family with their eager forward and loss: the cases the CPU tests check against the
/// eager oracle, and the backend suite of Runtime.Gpu.Tests runs on every device.
/// </summary>
public static class OracleCases
{
    /// <summary>The core family.</summary>
    public static readonly OracleCase[] Core =
    {
        new OracleCase("Mlp", () => new MlpModel(seed: 3), (m, x) => ((MlpModel)m).Forward(x), (m, y, t, l) => ((MlpModel)m).Loss(y, l)),
        new OracleCase("TanhSigmoid", () => new TanhSigmoidModel(seed: 4), (m, x) => ((TanhSigmoidModel)m).Forward(x), (m, y, t, l) => ((TanhSigmoidModel)m).Loss(y, t)),
        new OracleCase("Elementwise", () => new ElementwiseModel(seed: 5), (m, x) => ((ElementwiseModel)m).Forward(x), (m, y, t, l) => ((ElementwiseModel)m).Loss(y, t)),
        new OracleCase("Softmax", () => new SoftmaxModel(seed: 6), (m, x) => ((SoftmaxModel)m).Forward(x), (m, y, t, l) => ((SoftmaxModel)m).Loss(y, t)),
        new OracleCase("Reduction", () => new ReductionModel(seed: 7), (m, x) => ((ReductionModel)m).Forward(x), (m, y, t, l) => ((ReductionModel)m).Loss(y, t)),
        new OracleCase("Residual", () => new ResidualModel(seed: 8), (m, x) => ((ResidualModel)m).Forward(x), (m, y, t, l) => ((ResidualModel)m).Loss(y, l)),
        new OracleCase("SequenceLinear", () => new SequenceLinearModel(seed: 9), (m, x) => ((SequenceLinearModel)m).Forward(x), (m, y, t, l) => ((SequenceLinearModel)m).Loss(y, l)),
        new OracleCase("SharedInput", () => new SharedInputModel(seed: 10), (m, x) => ((SharedInputModel)m).Forward(x), (m, y, t, l) => ((SharedInputModel)m).Loss(y, t)),
        new OracleCase("Identity", () => new IdentityModel(seed: 11), (m, x) => ((IdentityModel)m).Forward(x), (m, y, t, l) => ((IdentityModel)m).Loss(y, t)),
    };

    /// <summary>The convolution family.</summary>
    public static readonly OracleCase[] Convolution =
    {
        new OracleCase("SmallCnn", () => new SmallCnnModel(seed: 11), (m, x) => ((SmallCnnModel)m).Forward(x), (m, y, t, l) => ((SmallCnnModel)m).Loss(y, l)),
        new OracleCase("GroupedCnn", () => new GroupedCnnModel(seed: 12), (m, x) => ((GroupedCnnModel)m).Forward(x), (m, y, t, l) => ((GroupedCnnModel)m).Loss(y, t)),
        new OracleCase("Layout", () => new LayoutModel(seed: 13), (m, x) => ((LayoutModel)m).Forward(x), (m, y, t, l) => ((LayoutModel)m).Loss(y, l)),
    };

    static readonly int[] Usual = { 1, 7, 16 };
    static readonly int[] Batched = { 2, 7, 16 }; // BatchNorm1d in training needs two samples per feature for a variance
    // With two samples BatchNorm1d outputs ±1 whatever its input, so its input gradient is pure rounding noise; a
    // model whose loss depends on that gradient through a residual path starts at three samples.
    static readonly int[] Three = { 3, 7, 16 };

    /// <summary>The normalization family.</summary>
    public static readonly OracleCase[] Normalization =
    {
        new OracleCase("BatchNormMlp", () => new BatchNormMlpModel(seed: 3), (m, x) => ((BatchNormMlpModel)m).Forward(x), (m, y, t, l) => ((BatchNormMlpModel)m).Loss(y, l), Sizes: Batched),
        new OracleCase("BatchNorm2d", () => new BatchNorm2dModel(seed: 4), (m, x) => ((BatchNorm2dModel)m).Forward(x), (m, y, t, l) => ((BatchNorm2dModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("Dropout", () => new DropoutModel(seed: 5), (m, x) => ((DropoutModel)m).Forward(x), (m, y, t, l) => ((DropoutModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("Bce", () => new BceModel(seed: 6), (m, x) => ((BceModel)m).Forward(x), (m, y, t, l) => ((BceModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("SoftmaxAxis", () => new SoftmaxAxisModel(seed: 7), (m, x) => ((SoftmaxAxisModel)m).Forward(x), (m, y, t, l) => ((SoftmaxAxisModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("NormClassifier", () => new NormClassifierModel(seed: 8), (m, x) => ((NormClassifierModel)m).Forward(x), (m, y, t, l) => ((NormClassifierModel)m).Loss(y, l), Sizes: Batched),
        new OracleCase("NormBlocks", () => new NormBlocksModel(seed: 9), (m, x) => ((NormBlocksModel)m).Forward(x), (m, y, t, l) => ((NormBlocksModel)m).Loss(y, t), Sizes: Three),
    };

    /// <summary>The sequence family.</summary>
    public static readonly OracleCase[] Sequence =
    {
        new OracleCase("EmbedNormGelu", () => new EmbedNormGeluModel(seed: 3), (m, x) => ((EmbedNormGeluModel)m).Forward(x), (m, y, t, l) => ((EmbedNormGeluModel)m).Loss(y, t), Ids: 11),
        new OracleCase("Attention", () => new AttentionModel(seed: 4), (m, x) => ((AttentionModel)m).Forward(x), (m, y, t, l) => ((AttentionModel)m).Loss(y, t)),
        new OracleCase("TinyTransformer", () => new TinyTransformerModel(seed: 5), (m, x) => ((TinyTransformerModel)m).Forward(x), (m, y, t, l) => ((TinyTransformerModel)m).Loss(y, t), Ids: 7),
        new OracleCase("Lstm", () => new LstmModel(seed: 6), (m, x) => ((LstmModel)m).Forward(x), (m, y, t, l) => ((LstmModel)m).Loss(y, t)),
        new OracleCase("Gru", () => new GruModel(seed: 7), (m, x) => ((GruModel)m).Forward(x), (m, y, t, l) => ((GruModel)m).Loss(y, t)),
    };

    /// <summary>Every case.</summary>
    public static IEnumerable<OracleCase> All => Core.Concat(Convolution).Concat(Normalization).Concat(Sequence);
}
