using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>The core ops: MLPs, elementwise ops, softmax, reductions, modules, batched MatMul, inputs read in place (see <see cref="CompiledOracle"/>).</summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class CompiledVsEagerTests
{
    static readonly OracleCase[] Cases = OracleCases.Core;

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
