using System.IO;

namespace ModelGen.Generator.Tests;

/// <summary>The sequence family's sample models, exactly as in the repository's Samples folder.</summary>
public static class SequenceSamples
{
    /// <summary>Samples/CharTransformer/CharTransformer.cs: two causal pre-norm blocks with LayerNorm, attention and a GELU MLP.</summary>
    public static string CharTransformer => File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "Samples", "CharTransformer", "CharTransformer.cs"));

    /// <summary>Samples/CharLstm/CharLstm.cs: embedding, LSTM and a linear head.</summary>
    public static string CharLstm => File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "Samples", "CharLstm", "CharLstm.cs"));
}
