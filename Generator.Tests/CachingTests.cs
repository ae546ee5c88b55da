using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// Incremental caching: an edit that does not touch a model leaves every step of its pipeline Cached or Unchanged
/// (nothing re-emitted), and a real edit to the model reaches its output as Modified.
/// </summary>
public class CachingTests
{
    static readonly string[] Steps = { TrackingNames.ModelSpec, TrackingNames.CompiledModel, TrackingNames.ModuleSpec, TrackingNames.CompiledModule };

    static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun(string source)
    {
        var compilation = GeneratorHarness.CreateCompilation(("Model.cs", source));
        var first = GeneratorHarness.Run(GeneratorHarness.CreateDriver(), compilation);
        Assert.Null(first.Exception);
        Assert.True(first.Diagnostics.IsEmpty, first.DiagnosticsText);
        Assert.NotEmpty(first.Sources);
        return (first.Driver, compilation);
    }

    /// <summary>Every output reason of the named steps (and of the source outputs) after the last run.</summary>
    static List<(string Step, IncrementalStepRunReason Reason)> Reasons(GeneratorRunResult run)
    {
        var reasons = new List<(string, IncrementalStepRunReason)>();
        foreach (var name in Steps)
            if (run.TrackedSteps.TryGetValue(name, out var steps))
                foreach (var step in steps) foreach (var output in step.Outputs) reasons.Add((name, output.Reason));
        foreach (var pair in run.TrackedOutputSteps)
            foreach (var step in pair.Value) foreach (var output in step.Outputs) reasons.Add((pair.Key, output.Reason));
        return reasons;
    }

    static void AssertAllCached(GeneratorResult second)
    {
        Assert.Null(second.Exception);
        var reasons = Reasons(second.Run);
        Assert.Contains(reasons, r => r.Step == TrackingNames.CompiledModel);
        Assert.All(reasons, r => Assert.True(r.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"step {r.Step} was {r.Reason} after an unrelated edit"));
    }

    [Theory]
    [InlineData("FashionMlp")]
    [InlineData("ResidualNet")]
    public void AddingAnUnrelatedFileReEmitsNothing(string model)
    {
        var (driver, compilation) = FirstRun(SampleModels.Get(model));
        var unrelated = CSharpSyntaxTree.ParseText("namespace Other; public static class Helper { public static int Twice(int x) => 2 * x; }",
            GeneratorHarness.ParseOptions, "Helper.cs");
        AssertAllCached(GeneratorHarness.Run(driver, compilation.AddSyntaxTrees(unrelated)));
    }

    [Fact]
    public void EditingAnUnrelatedFileReEmitsNothing()
    {
        var helper = CSharpSyntaxTree.ParseText("namespace Other; public static class Helper { public static int Twice(int x) => 2 * x; }",
            GeneratorHarness.ParseOptions, "Helper.cs");
        var compilation = GeneratorHarness.CreateCompilation(("Model.cs", SampleModels.ParameterMlp)).AddSyntaxTrees(helper);
        var first = GeneratorHarness.Run(GeneratorHarness.CreateDriver(), compilation);
        Assert.True(first.Diagnostics.IsEmpty, first.DiagnosticsText);
        var edited = helper.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            "namespace Other; public static class Helper { public static int Thrice(int x) => 3 * x; }"));
        AssertAllCached(GeneratorHarness.Run(first.Driver, compilation.ReplaceSyntaxTree(helper, edited)));
    }

    [Fact]
    public void EditingACommentInTheModelFileDoesNotReEmitTheModel()
    {
        var (driver, compilation) = FirstRun(SampleModels.HousePrices);
        var tree = compilation.SyntaxTrees.First(t => t.FilePath == "Model.cs");
        // A comment above the class shifts every span, so the parsed spec is new; but the compiled output (source text and
        // no diagnostics) compares equal, so the file is not re-emitted.
        var edited = tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            SampleModels.HousePrices.Replace("namespace Samples;", "namespace Samples;//")));
        Assert.NotEqual(tree.ToString(), edited.ToString());
        var second = GeneratorHarness.Run(driver, compilation.ReplaceSyntaxTree(tree, edited));
        Assert.Null(second.Exception);
        var reasons = Reasons(second.Run);
        Assert.All(reasons.Where(r => r.Step == TrackingNames.CompiledModel || r.Step == "SourceOutput"),
            r => Assert.True(r.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{r.Step}: {r.Reason}"));
    }

    [Fact]
    public void ChangingALayerSizeRegeneratesTheModel()
    {
        var (driver, compilation) = FirstRun(SampleModels.HousePrices);
        var tree = compilation.SyntaxTrees.First(t => t.FilePath == "Model.cs");
        string changed = SampleModels.HousePrices.Replace("new(13, 32)", "new(13, 64)").Replace("new(32, 1)", "new(64, 1)");
        Assert.NotEqual(SampleModels.HousePrices, changed);
        var second = GeneratorHarness.Run(driver, compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(changed))));
        Assert.Null(second.Exception);
        Assert.True(second.Diagnostics.IsEmpty, second.DiagnosticsText);
        var reasons = Reasons(second.Run);
        Assert.Contains((TrackingNames.ModelSpec, IncrementalStepRunReason.Modified), reasons);
        Assert.Contains((TrackingNames.CompiledModel, IncrementalStepRunReason.Modified), reasons);
        Assert.Contains(second.Run.TrackedOutputSteps.SelectMany(p => p.Value).SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("new(\"hidden.weight\", new[] { 13, 64 }", second.Source("HousePrices.g.cs"));
    }
}
