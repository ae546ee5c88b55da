using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>What one run of the ModelGen generator produced.</summary>
public sealed record GeneratorResult(
    GeneratorDriver Driver,
    Compilation Input,
    Compilation Output,
    GeneratorRunResult Run,
    ImmutableArray<GeneratedSourceResult> Sources,
    ImmutableArray<Diagnostic> Diagnostics,
    Exception? Exception)
{
    /// <summary>The single generated file whose hint name ends with <paramref name="hintSuffix"/>.</summary>
    public string Source(string hintSuffix)
    {
        var matches = Sources.Where(s => s.HintName.EndsWith(hintSuffix, StringComparison.Ordinal)).ToList();
        Assert.True(matches.Count == 1, $"expected one generated file ending '{hintSuffix}', got: {string.Join(", ", Sources.Select(s => s.HintName))}");
        return matches[0].SourceText.ToString();
    }

    /// <summary>All diagnostics formatted one per line, for assertion messages.</summary>
    public string DiagnosticsText => string.Join(Environment.NewLine, Diagnostics.Select(d => d.ToString()));
}

/// <summary>Runs the ModelGen generator over C# sources in memory, against the .NET 10 reference assemblies and the runtime.</summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    static readonly ImmutableArray<MetadataReference> References =
        Net100.References.All.Cast<MetadataReference>()
            .Append(MetadataReference.CreateFromFile(typeof(ModelGen.Tensor).Assembly.Location))
            .ToImmutableArray();

    /// <summary>The references of a project that also references the GPU backend (and so ILGPU).</summary>
    static readonly ImmutableArray<MetadataReference> GpuReferences =
        References.Add(MetadataReference.CreateFromFile(typeof(ModelGen.Gpu.GpuKernels).Assembly.Location))
            .Add(MetadataReference.CreateFromFile(typeof(ILGPU.ArrayView<float>).Assembly.Location))
            .Add(MetadataReference.CreateFromFile(typeof(ILGPU.Algorithms.XMath).Assembly.Location));

    /// <summary>
    /// The runtime being built in parallel may not yet declare the Tensor operators that model code uses; where it does
    /// not, this C# 14 extension block stands in for them so that `x + y` binds as it will in a real build. The generator
    /// reads operators from syntax, so its output is the same either way.
    /// </summary>
    const string OperatorShim = """
        namespace ModelGen
        {
            public static class TensorOperatorShimForGeneratorTests
            {
                extension(Tensor)
                {
                    public static Tensor operator +(Tensor a, Tensor b) => a;
                    public static Tensor operator +(Tensor a, float b) => a;
                    public static Tensor operator +(float a, Tensor b) => b;
                    public static Tensor operator -(Tensor a, Tensor b) => a;
                    public static Tensor operator -(Tensor a, float b) => a;
                    public static Tensor operator -(float a, Tensor b) => b;
                    public static Tensor operator *(Tensor a, Tensor b) => a;
                    public static Tensor operator *(Tensor a, float b) => a;
                    public static Tensor operator *(float a, Tensor b) => b;
                    public static Tensor operator /(Tensor a, Tensor b) => a;
                    public static Tensor operator /(Tensor a, float b) => a;
                    public static Tensor operator /(float a, Tensor b) => b;
                    public static Tensor operator -(Tensor a) => a;
                }
            }
        }
        """;

    static readonly bool RuntimeHasOperators = typeof(ModelGen.Tensor).GetMethod("op_Addition", new[] { typeof(ModelGen.Tensor), typeof(ModelGen.Tensor) }) != null;

    public static CSharpCompilation CreateCompilation(params (string Path, string Text)[] sources) => CreateCompilation(gpu: false, sources);

    /// <summary>A compilation of <paramref name="sources"/>; with <paramref name="gpu"/> it references the GPU backend, so the generator writes GPU programs.</summary>
    public static CSharpCompilation CreateCompilation(bool gpu, params (string Path, string Text)[] sources) => CreateCompilation(gpu, ParseOptions, sources);

    static CSharpCompilation CreateCompilation(bool gpu, CSharpParseOptions parseOptions, params (string Path, string Text)[] sources)
    {
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parseOptions, s.Path)).ToList();
        if (!RuntimeHasOperators) trees.Add(CSharpSyntaxTree.ParseText(OperatorShim, ParseOptions, "TensorOperatorShim.cs"));
        return CSharpCompilation.Create("UserModels", trees, gpu ? GpuReferences : References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
    }

    public static GeneratorDriver CreateDriver() => CreateDriver(ParseOptions);

    static GeneratorDriver CreateDriver(CSharpParseOptions parseOptions) =>
        CSharpGeneratorDriver.Create(
            new[] { new ModelGen.Generator.ModelGenerator().AsSourceGenerator() },
            parseOptions: parseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator over one source file (named <paramref name="path"/>).</summary>
    public static GeneratorResult Run(string source, string path = "Model.cs") => Run(new[] { (path, source) });

    public static GeneratorResult Run(params (string Path, string Text)[] sources) => Run(CreateDriver(), CreateCompilation(sources));

    /// <summary>Runs the generator over one source file in a project whose C# version is <paramref name="version"/> (its generated files too).</summary>
    public static GeneratorResult Run(string source, LanguageVersion version)
    {
        var options = new CSharpParseOptions(version);
        return Run(CreateDriver(options), CreateCompilation(gpu: false, options, ("Model.cs", source)));
    }

    /// <summary>Runs the generator over one source file in a project that references the GPU backend.</summary>
    public static GeneratorResult RunGpu(string source, string path = "Model.cs") => Run(CreateDriver(), CreateCompilation(gpu: true, (path, source)));

    /// <summary>Runs (or re-runs) <paramref name="driver"/> over <paramref name="compilation"/>.</summary>
    public static GeneratorResult Run(GeneratorDriver driver, Compilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var run = driver.GetRunResult().Results.Single();
        return new GeneratorResult(driver, compilation, output, run, run.GeneratedSources, run.Diagnostics, run.Exception);
    }

    /// <summary>Runs the generator and asserts that it did not throw: every test goes through here or asserts it itself.</summary>
    public static GeneratorResult RunChecked(string source, string path = "Model.cs")
    {
        var result = Run(source, path);
        Assert.Null(result.Exception);
        return result;
    }

    /// <summary>The repository root (the folder holding ModelGen.sln), found by walking up from the test binaries.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) return dir.FullName;
            throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Line endings normalized to \n.</summary>
    public static string Normalize(string text) => text.Replace("\r\n", "\n").Replace("\r", "\n");
}
