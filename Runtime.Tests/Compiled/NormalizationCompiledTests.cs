using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// The Normalization and Losses families (see <see cref="CompiledOracle"/>): BatchNorm and Dropout compare the training
/// step with the eager model in training mode, including the running statistics the step leaves behind, and Infer
/// with the eager model in evaluation mode. The eager dropout draws the compiled first step's mask (Seed 0, Step 1,
/// the layer's path as salt).
/// </summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class NormalizationCompiledTests
{
    static readonly int[] Usual = { 1, 7, 16 };
    static readonly int[] Batched = { 2, 7, 16 }; // BatchNorm1d in training needs two samples per feature for a variance
    // With two samples BatchNorm1d outputs ±1 whatever its input, so its input gradient is pure rounding noise; a
    // model whose loss depends on that gradient through a residual path starts at three samples.
    static readonly int[] Three = { 3, 7, 16 };

    static readonly OracleCase[] Cases =
    {
        new OracleCase("BatchNormMlp", () => new BatchNormMlpModel(seed: 3), (m, x) => ((BatchNormMlpModel)m).Forward(x), (m, y, t, l) => ((BatchNormMlpModel)m).Loss(y, l), Sizes: Batched),
        new OracleCase("BatchNorm2d", () => new BatchNorm2dModel(seed: 4), (m, x) => ((BatchNorm2dModel)m).Forward(x), (m, y, t, l) => ((BatchNorm2dModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("Dropout", () => new DropoutModel(seed: 5), (m, x) => ((DropoutModel)m).Forward(x), (m, y, t, l) => ((DropoutModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("Bce", () => new BceModel(seed: 6), (m, x) => ((BceModel)m).Forward(x), (m, y, t, l) => ((BceModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("SoftmaxAxis", () => new SoftmaxAxisModel(seed: 7), (m, x) => ((SoftmaxAxisModel)m).Forward(x), (m, y, t, l) => ((SoftmaxAxisModel)m).Loss(y, t), Sizes: Usual),
        new OracleCase("NormClassifier", () => new NormClassifierModel(seed: 8), (m, x) => ((NormClassifierModel)m).Forward(x), (m, y, t, l) => ((NormClassifierModel)m).Loss(y, l), Sizes: Batched),
        new OracleCase("NormBlocks", () => new NormBlocksModel(seed: 9), (m, x) => ((NormBlocksModel)m).Forward(x), (m, y, t, l) => ((NormBlocksModel)m).Loss(y, t), Sizes: Three),
    };

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
