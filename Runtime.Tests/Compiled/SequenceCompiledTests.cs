using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>The Sequence family: embedding, LayerNorm, GELU, attention, a tiny transformer, LSTM, GRU (see <see cref="CompiledOracle"/>).</summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class SequenceCompiledTests
{
    static readonly OracleCase[] Cases =
    {
        new OracleCase("EmbedNormGelu", () => new EmbedNormGeluModel(seed: 3), (m, x) => ((EmbedNormGeluModel)m).Forward(x), (m, y, t, l) => ((EmbedNormGeluModel)m).Loss(y, t), Ids: 11),
        new OracleCase("Attention", () => new AttentionModel(seed: 4), (m, x) => ((AttentionModel)m).Forward(x), (m, y, t, l) => ((AttentionModel)m).Loss(y, t)),
        new OracleCase("TinyTransformer", () => new TinyTransformerModel(seed: 5), (m, x) => ((TinyTransformerModel)m).Forward(x), (m, y, t, l) => ((TinyTransformerModel)m).Loss(y, t), Ids: 7),
        new OracleCase("Lstm", () => new LstmModel(seed: 6), (m, x) => ((LstmModel)m).Forward(x), (m, y, t, l) => ((LstmModel)m).Loss(y, t)),
        new OracleCase("Gru", () => new GruModel(seed: 7), (m, x) => ((GruModel)m).Forward(x), (m, y, t, l) => ((GruModel)m).Loss(y, t)),
    };

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name) => CompiledOracle.TrainStepAndInferMatchEager(Cases.Single(c => c.Name == name));

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name) => CompiledOracle.EverySimdPathGivesTheSameStep(Cases.Single(c => c.Name == name));
}
