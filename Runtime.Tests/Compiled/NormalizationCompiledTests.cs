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

    static readonly OracleCase[] Cases = OracleCases.Normalization;

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
