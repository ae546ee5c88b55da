using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>The core ops: MLPs, elementwise ops, softmax, reductions, modules, batched MatMul, inputs read in place (see <see cref="CompiledOracle"/>).</summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class CompiledVsEagerTests
{
    static readonly OracleCase[] Cases =
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

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
