using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>The Convolution family: small CNNs (strides, padding, groups, dilation, pools) and the layout ops (see <see cref="CompiledOracle"/>).</summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class ConvolutionCompiledTests
{
    static readonly OracleCase[] Cases =
    {
        new OracleCase("SmallCnn", () => new SmallCnnModel(seed: 11), (m, x) => ((SmallCnnModel)m).Forward(x), (m, y, t, l) => ((SmallCnnModel)m).Loss(y, l)),
        new OracleCase("GroupedCnn", () => new GroupedCnnModel(seed: 12), (m, x) => ((GroupedCnnModel)m).Forward(x), (m, y, t, l) => ((GroupedCnnModel)m).Loss(y, t)),
        new OracleCase("Layout", () => new LayoutModel(seed: 13), (m, x) => ((LayoutModel)m).Forward(x), (m, y, t, l) => ((LayoutModel)m).Loss(y, l)),
    };

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
