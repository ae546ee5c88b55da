using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// The GPU program is written only for projects that reference the GPU backend, and what is written compiles against
/// it (the GpuKernels signatures the op table's calls render to, the generated kernels and their argument structs).
/// </summary>
public class GpuEmissionTests
{
    /// <summary>The golden file of the sample MLP's code in a project that references the GPU backend.</summary>
    public const string GoldenName = "FashionMnistSample.FashionMlp.gpu.g.cs";

    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void TheGpuProgramOfEverySampleCompiles(string model)
    {
        var result = GeneratorHarness.RunGpu(SampleModels.Get(model), model + ".cs");
        Assert.Null(result.Exception);
        Assert.True(result.Diagnostics.IsEmpty, result.DiagnosticsText);
        var model_ = result.Sources.Single(s => s.SourceText.ToString().Contains(": global::ModelGen.ModelBase", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("sealed class GpuProgram : global::ModelGen.Gpu.GpuProgram", model_);
        var errors = result.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(20)));
    }

    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void AProjectWithoutTheGpuBackendGetsNoGpuCode(string model)
    {
        var result = GeneratorHarness.RunChecked(SampleModels.Get(model), model + ".cs");
        foreach (var source in result.Sources)
        {
            string text = source.SourceText.ToString();
            Assert.DoesNotContain("GpuProgram", text);
            Assert.DoesNotContain("ILGPU", text);
        }
    }

    /// <summary>The GPU code of the sample MLP, compared with Golden/FashionMnistSample.FashionMlp.gpu.g.cs (MODELGEN_ACCEPT_GOLDEN=1 rewrites it).</summary>
    [Fact]
    public void TheSampleMlpsGpuCodeMatchesItsGolden()
    {
        var result = GeneratorHarness.RunGpu(SampleModels.FashionMlp, "FashionMlp.cs");
        string actual = GeneratorHarness.Normalize(result.Sources.Single().SourceText.ToString());
        string path = Path.Combine(GeneratorHarness.RepositoryRoot, "Generator.Tests", "Golden", GoldenName);
        if (Environment.GetEnvironmentVariable("MODELGEN_ACCEPT_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), "no golden file; run the tests with MODELGEN_ACCEPT_GOLDEN=1 to create it");
        Assert.Equal(GeneratorHarness.Normalize(File.ReadAllText(path)), actual);
    }
}
