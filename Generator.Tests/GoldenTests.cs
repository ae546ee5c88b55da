using System;
using System.IO;
using System.Linq;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// The generated code of each sample model, compared with Golden/*.g.cs. After an intended change to the emitted
/// code, run the tests with MODELGEN_ACCEPT_GOLDEN=1 to rewrite the files in the source tree, then review the diff.
/// </summary>
public class GoldenTests
{
    /// <summary>The source tree's Golden folder when the tests run from a checkout (so a fresh accept is seen without a rebuild), else the copy next to the binaries.</summary>
    static string GoldenFolder
    {
        get
        {
            try
            {
                return Path.Combine(GeneratorHarness.RepositoryRoot, "Generator.Tests", "Golden");
            }
            catch (InvalidOperationException)
            {
                return Path.Combine(AppContext.BaseDirectory, "Golden");
            }
        }
    }

    static bool Accept => Environment.GetEnvironmentVariable("MODELGEN_ACCEPT_GOLDEN") == "1";

    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void GeneratedCodeMatchesGolden(string model)
    {
        var result = GeneratorHarness.RunChecked(SampleModels.Get(model), model + ".cs");
        Assert.True(result.Diagnostics.IsEmpty, result.DiagnosticsText);
        Assert.NotEmpty(result.Sources);

        foreach (var source in result.Sources)
        {
            string actual = GeneratorHarness.Normalize(source.SourceText.ToString());
            string name = source.HintName;
            if (Accept)
            {
                var folder = Path.Combine(GeneratorHarness.RepositoryRoot, "Generator.Tests", "Golden");
                Directory.CreateDirectory(folder);
                File.WriteAllText(Path.Combine(folder, name), actual);
                continue;
            }
            string path = Path.Combine(GoldenFolder, name);
            Assert.True(File.Exists(path), $"no golden file {name}; run the tests with MODELGEN_ACCEPT_GOLDEN=1 to create it");
            string expected = GeneratorHarness.Normalize(File.ReadAllText(path));
            if (expected != actual)
            {
                var e = expected.Split('\n');
                var a = actual.Split('\n');
                int line = Enumerable.Range(0, Math.Min(e.Length, a.Length)).FirstOrDefault(i => e[i] != a[i], Math.Min(e.Length, a.Length));
                Assert.Fail($"{name} differs from its golden file at line {line + 1}:\n  golden:    {(line < e.Length ? e[line] : "<end>")}\n  generated: {(line < a.Length ? a[line] : "<end>")}\n" +
                            "Run with MODELGEN_ACCEPT_GOLDEN=1 to accept the new output.");
            }
        }
    }

    [Fact]
    public void EveryGoldenFileBelongsToASample()
    {
        var expected = SampleModels.All.Select(m => (string)m[0])
            .SelectMany(m => GeneratorHarness.RunChecked(SampleModels.Get(m), m + ".cs").Sources.Select(s => s.HintName))
            .ToHashSet();
        expected.Add(GpuEmissionTests.GoldenName);
        var folder = GoldenFolder;
        var present = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.g.cs").Select(Path.GetFileName).ToList() : new();
        Assert.All(present, f => Assert.Contains(f!, expected));
    }
}
