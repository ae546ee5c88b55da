using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// Consumers with strict settings: `AnalysisLevel latest-all` with warnings as errors (the .NET analyzers of the SDK
/// over the samples and their generated code), and projects on C# 12.
/// </summary>
public class StrictConsumerTests
{
    // ---------------- a static [Loss] (what CA1822 asks for) ----------------

    static string StaticLoss(string source)
    {
        string result = source.Replace("public Tensor Loss(", "public static Tensor Loss(", StringComparison.Ordinal);
        Assert.NotEqual(source, result);
        return result;
    }

    /// <summary>A static loss is accepted and compiles to exactly the code of the instance one.</summary>
    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void StaticLossGeneratesTheSameCode(string name)
    {
        var instance = GeneratorHarness.RunChecked(SampleModels.Get(name));
        var @static = GeneratorHarness.RunChecked(StaticLoss(SampleModels.Get(name)));
        var errors = @static.Diagnostics.Concat(@static.Output.GetDiagnostics()).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.Equal(instance.Sources.Length, @static.Sources.Length);
        foreach (var (a, b) in instance.Sources.Zip(@static.Sources))
        {
            Assert.Equal(a.HintName, b.HintName);
            Assert.Equal(a.SourceText.ToString(), b.SourceText.ToString());
        }
    }

    [Fact]
    public void StaticForwardIsStillRefused() => OneErrorTests.ExpectOnly("MG0008", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public static Tensor [|Forward|]([Shape(4)] Tensor x) => x;
        }
        """, "instance method");

    [Fact]
    public void GenericLossIsRefused() => OneErrorTests.ExpectOnly("MG0008", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            [Loss] public static Tensor [|Loss|]<T>(Tensor y, Labels labels) => CrossEntropy(y, labels);
        }
        """, "non-generic");

    // ---------------- AnalysisLevel latest-all ----------------

    /// <summary>
    /// The SDK's .NET analyzers with every rule on (what `AnalysisLevel latest-all` does), over a sample with its
    /// generated code: no CA diagnostic in a generated file or in the [Loss] method once the loss is static. The
    /// instance loss gets CA1822, which shows the analyzers run.
    /// </summary>
    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void LatestAllAnalyzersFindNothingInGeneratedCodeOrTheLoss(string name)
    {
        var before = AnalyzerDiagnostics(SampleModels.Get(name), out var beforeLoss);
        Assert.Contains(before, d => d.Id == "CA1822" && beforeLoss.Contains(d.Location.SourceSpan.Start));

        var after = AnalyzerDiagnostics(StaticLoss(SampleModels.Get(name)), out var loss);
        var ours = after.Where(d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true
            || loss.IntersectsWith(d.Location.SourceSpan)).ToList();
        Assert.True(ours.Count == 0, string.Join("\n", ours));
    }

    /// <summary>The analyzers' diagnostics over <paramref name="source"/> and the code generated for it; <paramref name="loss"/> is the [Loss] method's span.</summary>
    static List<Diagnostic> AnalyzerDiagnostics(string source, out Microsoft.CodeAnalysis.Text.TextSpan loss)
    {
        var result = GeneratorHarness.RunChecked(source);
        var userTree = result.Output.SyntaxTrees.First(t => t.FilePath == "Model.cs");
        loss = userTree.GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>()
            .Single(m => m.AttributeLists.SelectMany(a => a.Attributes).Any(a => a.Name.ToString() == "Loss")).Span;
        var analyzers = NetAnalyzers.Value;
        var everyRule = analyzers.SelectMany(a => a.SupportedDiagnostics).Select(d => d.Id).Distinct()
            .ToImmutableDictionary(id => id, _ => ReportDiagnostic.Warn);
        var compilation = result.Output.WithOptions(result.Output.Options.WithSpecificDiagnosticOptions(everyRule));
        var withAnalyzers = compilation.WithAnalyzers(analyzers, new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty));
        var diagnostics = withAnalyzers.GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return diagnostics.Where(d => d.Id.StartsWith("CA", StringComparison.Ordinal) && d.Severity >= DiagnosticSeverity.Warning).ToList();
    }

    /// <summary>The .NET analyzers (CA rules) that ship with the SDK running these tests.</summary>
    static readonly Lazy<ImmutableArray<DiagnosticAnalyzer>> NetAnalyzers = new(() =>
    {
        // <dotnet>/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll → <dotnet>/sdk/*/Sdks/Microsoft.NET.Sdk/analyzers
        string dotnet = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        string folder = Directory.GetDirectories(Path.Combine(dotnet, "sdk"))
            .Select(sdk => Path.Combine(sdk, "Sdks", "Microsoft.NET.Sdk", "analyzers"))
            .Where(Directory.Exists).OrderBy(f => f, StringComparer.Ordinal).LastOrDefault()
            ?? throw new InvalidOperationException($"no SDK analyzers under {dotnet}/sdk");
        var loader = new Loader();
        return new[] { "Microsoft.CodeAnalysis.NetAnalyzers.dll", "Microsoft.CodeAnalysis.CSharp.NetAnalyzers.dll" }
            .SelectMany(file => new AnalyzerFileReference(Path.Combine(folder, file), loader).GetAnalyzers(LanguageNames.CSharp))
            .ToImmutableArray();
    });

    sealed class Loader : IAnalyzerAssemblyLoader
    {
        public void AddDependencyLocation(string fullPath) { }
        public Assembly LoadFromPath(string fullPath) => Assembly.LoadFrom(fullPath);
    }

    // ---------------- C# 12 ----------------

    /// <summary>
    /// Partial properties are C# 13. On C# 12 ModelGen says so once for the class and adds nothing to the generated
    /// file; what remains is C#'s own report at each declaration (CS8703, and CS9248 as it gets no implementation part).
    /// </summary>
    [Fact]
    public void CSharp12ParameterPropertiesGetOneError()
    {
        var markup = Markup.Parse(DiagnosticTests.Usings + """
            [Model]
            public partial class Net
            {
                [Parameter(4, 2)] public partial Tensor [|W|] { get; }
                [Parameter(2)] public partial Tensor B { get; }
                [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W) + B;
            }
            """);
        var result = GeneratorHarness.Run(markup.Source, LanguageVersion.CSharp12);
        Assert.Null(result.Exception);
        var seen = result.Diagnostics.Concat(result.Output.GetDiagnostics()).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        var mg = Assert.Single(seen, d => d.Id.StartsWith("MG", StringComparison.Ordinal));
        Assert.Equal("MG0012", mg.Id);
        Assert.Equal(markup.Span, mg.Location.SourceSpan);
        string message = mg.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("C# 13", message);
        Assert.Contains("12.0", message);
        Assert.Contains("<LangVersion>13</LangVersion>", message);
        var others = seen.Where(d => d != mg).ToList();
        Assert.True(others.All(d => d.Location.SourceTree?.FilePath == "Model.cs" && d.Id is "CS8703" or "CS9248"), string.Join("\n", seen));
        Assert.Equal(new[] { "CS8703", "CS8703", "CS9248", "CS9248" }, others.Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal));
    }

    /// <summary>Everything else ModelGen generates compiles on C# 12: the samples without [Parameter] properties build clean.</summary>
    [Theory]
    [MemberData(nameof(SampleModels.All), MemberType = typeof(SampleModels))]
    public void SamplesBuildOnCSharp12(string name)
    {
        string source = SampleModels.Get(name);
        if (source.Contains("[Parameter", StringComparison.Ordinal)) return;
        var result = GeneratorHarness.Run(source, LanguageVersion.CSharp12);
        Assert.Null(result.Exception);
        var seen = result.Diagnostics.Concat(result.Output.GetDiagnostics()).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(seen.Count == 0, string.Join("\n", seen));
    }
}
