using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// One mistake, one error: for each mistake, the complete set of errors and warnings the user sees (ModelGen's
/// diagnostics and the C# compiler's, the generated files included) is the one diagnostic that explains it, at its span.
/// </summary>
public class OneErrorTests
{
    /// <summary>Everything of severity warning or error that a build of <paramref name="source"/> shows: MG and C#.</summary>
    internal static List<Diagnostic> UserSees(string source)
    {
        var result = GeneratorHarness.RunChecked(source);
        return result.Diagnostics.Concat(result.Output.GetDiagnostics())
            .Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
    }

    /// <summary>Asserts that the build shows exactly one diagnostic, <paramref name="id"/> at the marked span, and returns it.</summary>
    internal static Diagnostic ExpectOnly(string id, string marked, params string[] messageContains)
    {
        var markup = Markup.Parse(DiagnosticTests.Usings + marked);
        var seen = UserSees(markup.Source);
        Assert.True(seen.Count == 1, $"expected only {id}, got:\n{string.Join("\n", seen)}");
        var d = seen[0];
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.True(markup.Span == d.Location.SourceSpan,
            $"{id} at '{markup.Source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)}', expected '{markup.SpanText}'");
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var fragment in messageContains) Assert.Contains(fragment, message);
        return d;
    }

    static string Message(Diagnostic d) => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);

    // ---------------- invalid declarations get no generated code that fails to compile ----------------

    [Fact]
    public void ParameterWithSetter() => ExpectOnly("MG0007", """
        [Model]
        public partial class Net
        {
            [Parameter(4, 2)] public partial Tensor [|W|] { get; set; }
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W);
        }
        """, "'W'", "only a getter");

    [Fact]
    public void ModuleParameterNotPartial() => ExpectOnly("MG0007", """
        [Module]
        public partial class Block
        {
            [Parameter(4)] public Tensor [|Scale|] { get; } = null!;
            [Forward] public Tensor Forward(Tensor x) => x * Scale;
        }
        """, "'Scale'", "partial");

    /// <summary>
    /// MG0009 is the only error, and the generated file adds nothing: what remains are C#'s own warnings at the field,
    /// which it gives any class with a null field (never assigned: CS0649; for a module's implicit constructor: CS8618).
    /// </summary>
    [Theory]
    [InlineData("Model", "[Shape(4)] Tensor x", "CS0649,MG0009")]
    [InlineData("Module", "Tensor x", "CS0649,CS8618,MG0009")]
    public void LayerFieldWithoutInitializer(string attribute, string input, string expected)
    {
        var markup = Markup.Parse(DiagnosticTests.Usings + $$"""
            [{{attribute}}]
            public partial class Net
            {
                readonly Linear [|hidden|];
                [Forward] public Tensor Forward({{input}}) => hidden.Forward(x);
            }
            """);
        var seen = UserSees(markup.Source);
        Assert.True(string.Join(",", seen.Select(d => d.Id).OrderBy(i => i)) == expected, string.Join("\n", seen));
        Assert.All(seen, d => Assert.Equal(markup.Span, d.Location.SourceSpan));
        Assert.Equal("MG0009", Assert.Single(seen, d => d.Severity == DiagnosticSeverity.Error).Id);
    }

    [Fact]
    public void ModuleLayerFieldWithoutInitializerIsReportedOnceWhenUsed()
    {
        var markup = Markup.Parse(DiagnosticTests.Usings + """
            [Module]
            public partial class Block
            {
                readonly Linear [|fc|];
                [Forward] public Tensor Forward(Tensor x) => fc.Forward(x);
            }
            [Model]
            public partial class Net
            {
                readonly Block block = new();
                [Forward] public Tensor Forward([Shape(4)] Tensor x) => block.Forward(x);
            }
            """);
        var seen = UserSees(markup.Source);
        Assert.Equal("MG0009", Assert.Single(seen, d => d.Severity == DiagnosticSeverity.Error).Id);
        Assert.All(seen, d => Assert.Equal(markup.Span, d.Location.SourceSpan));
    }

    // ---------------- records ----------------

    [Theory]
    [InlineData("record")]
    [InlineData("record class")]
    public void ModelOnARecordIsRefusedWithTheReason(string kind) => ExpectOnly("MG0010", $$"""
        [Model]
        public partial {{kind}} [|Net|]
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "record", "partial class");

    /// <summary>The module's own output says why; the model that uses it gets no program and adds nothing.</summary>
    [Fact]
    public void ModuleOnARecordIsRefusedWithTheReason() => ExpectOnly("MG0010", """
        [Module]
        public partial record [|Block|]
        {
            readonly Linear fc = new(4, 4);
            [Forward] public Tensor Forward(Tensor x) => fc.Forward(x);
        }
        [Model] public partial class Net { readonly Block block = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => block.Forward(x); }
        """, "record", "partial class");

    // ---------------- one mistake, one error ----------------

    [Fact]
    public void MisspeltLayerNameIsCSharpsErrorOnly() => ExpectOnly("CS0103", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => [|fcc|].Forward(x);
        }
        """, "'fcc'");

    [Fact]
    public void MisspeltOpIsCSharpsErrorOnly() => ExpectOnly("CS0103", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward([|Rleu|](x));
        }
        """, "'Rleu'");

    /// <summary>A local function or delegate is reported where it is declared; its call is the same mistake.</summary>
    [Theory]
    [InlineData("[|Tensor F(Tensor t) => Relu(t);|]", "F(x)", "local function")]
    [InlineData("Func<Tensor, Tensor> F = [|t => Relu(t)|];", "F(x)", "ops, layer and module calls")]
    public void LocalFunctionIsOneError(string declaration, string call, string fragment) => ExpectOnly("MG0004", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward]
            public Tensor Forward([Shape(4)] Tensor x)
            {
                {{declaration}}
                return fc.Forward({{call}});
            }
        }
        """, fragment);

    [Fact]
    public void ErrorsOfAModuleUsedByModelsAreReportedOnce() => ExpectOnly("MG0004", """
        [Module]
        public partial class Block
        {
            readonly Linear fc = new(4, 4);
            [Forward]
            public Tensor Forward(Tensor x)
            {
                int i = 0;
                [|while (i < 3) i++;|]
                return fc.Forward(x);
            }
        }
        [Model] public partial class A { readonly Block block = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => block.Forward(x); }
        [Model] public partial class B { readonly Block[] blocks = Repeat(2, () => new Block()); [Forward] public Tensor Forward([Shape(4)] Tensor x) => blocks[1].Forward(x); }
        """, "while");

    // ---------------- messages that say the fix ----------------

    [Fact]
    public void BatchDimensionInShapeSaysItIsImplicit() => ExpectOnly("MG0006", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([[|Shape(-1, 4)|]] Tensor x) => fc.Forward(x);
        }
        """, "batch dimension is implicit", "[Shape(4)]");

    [Fact]
    public void ImagesIntoLinearSayInsertFlatten() => ExpectOnly("MG0002", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(3136, 10);
            [Forward] public Tensor Forward([Shape(64, 7, 7)] Tensor x) => [|fc.Forward(x)|];
        }
        """, "(B, 64, 7, 7)", "3136", "Flatten");

    [Fact]
    public void ConvolutionErrorNamesTheLayerNotTheInternalOp()
    {
        var d = ExpectOnly("MG0002", """
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(3, 8, 5);
                [Forward] public Tensor Forward([Shape(3, 4, 4)] Tensor x) => [|conv.Forward(x)|];
            }
            """, "conv.Forward(x)", "Conv2d");
        Assert.DoesNotContain("Conv2dBias", Message(d));
    }

    [Fact]
    public void ReductionErrorNamesTheOpTheUserCalled()
    {
        var d = ExpectOnly("MG0002", """
            [Model]
            public partial class Net
            {
                [Forward] public Tensor Forward([Shape(3, 4)] Tensor x) => [|Sum(x, 0) + x|];
            }
            """, "Add");
        Assert.DoesNotContain("SumAxis", Message(d));
    }

    [Fact]
    public void LabelsForSequenceLogitsPointToSequenceCrossEntropy() => ExpectOnly("MG0002", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 5);
            [Forward] public Tensor Forward([Shape(6, 4)] Tensor x) => fc.Forward(x);
            [Loss] public Tensor Loss(Tensor y, Labels l) => [|SoftmaxCrossEntropy(y, l)|];
        }
        """, "(B, 6, 5)", "SequenceCrossEntropy");

    // ---------------- a module call that does not fit ----------------

    /// <summary>The source text at each additional location of <paramref name="d"/>.</summary>
    static IEnumerable<string> AdditionalText(Diagnostic d, string marked)
    {
        string source = Markup.Parse(DiagnosticTests.Usings + marked).Source;
        return d.AdditionalLocations.Select(l => source.Substring(l.SourceSpan.Start, l.SourceSpan.Length));
    }

    /// <summary>
    /// A module (Outer) that passes its input to another (Inner) whose layer does not fit it: the error is at the model's
    /// call, names the module's field, class, the input shape and the one it expects, and lists the places inside.
    /// </summary>
    [Fact]
    public void ModuleCallMismatchIsReportedAtTheCall()
    {
        const string marked = """
            [Module]
            public partial class Inner
            {
                readonly Linear fc = new(8, 8);
                [Forward] public Tensor Forward(Tensor x) => fc.Forward(x);
            }
            [Module]
            public partial class Outer
            {
                readonly Inner inner = new();
                [Forward] public Tensor Forward(Tensor x) => Relu(inner.Forward(x));
            }
            [Model]
            public partial class Net
            {
                readonly Outer outer = new();
                [Forward] public Tensor Forward([Shape(4)] Tensor x) => [|outer.Forward(x)|];
            }
            """;
        var d = ExpectOnly("MG0002", marked, "outer.Forward(x) (Outer): input (B, 4) does not fit: Outer expects (B, …, 8)",
            "Linear expects a last dimension of 8");
        string source = Markup.Parse(DiagnosticTests.Usings + marked).Source;
        Assert.Equal(new[] { "inner.Forward(x)", "fc.Forward(x)" },
            d.AdditionalLocations.Select(l => source.Substring(l.SourceSpan.Start, l.SourceSpan.Length)));
    }

    // ---------------- axes ----------------

    [Fact]
    public void AxisOutOfRangeIsReportedAtTheArgument() => ExpectOnly("MG0002", """
        [Model]
        public partial class Net
        {
            [Forward] public Tensor Forward([Shape(3, 4)] Tensor x) => Softmax(x, [|2|]);
        }
        """, "Softmax", "axis 2", "(B, 3, 4)", "per-sample");

    [Fact]
    public void NegativeAxisOutOfRangeIsReportedAtTheArgument() => ExpectOnly("MG0002", """
        [Model]
        public partial class Net
        {
            [Forward] public Tensor Forward([Shape(3, 4)] Tensor x) => Slice(x, [|-3|], 0, 1);
        }
        """, "Slice", "axis -3");

    public static IEnumerable<object[]> AxisOps => new[]
    {
        new object[] { "Softmax(x, 1)", "(B, 3, 4)" },
        new object[] { "LogSoftmax(x, 0)", "(B, 3, 4)" },
        new object[] { "Sum(x, 1)", "(B, 3)" },
        new object[] { "Mean(x, 0, keepDims: true)", "(B, 1, 4)" },
        new object[] { "Slice(x, 1, 0, 2)", "(B, 3, 2)" },
        new object[] { "Concat(x, x, 0)", "(B, 6, 4)" },
        new object[] { "Transpose(x, 0, 1)", "(B, 4, 3)" },
        new object[] { "Sum(x, -1)", "(B, 3)" },
        new object[] { "Slice(x, -2, 1, 2)", "(B, 2, 4)" },
    };

    /// <summary>Every op with an axis counts the per-sample axes, as [Shape] declares them: axis 0 is the first after the batch.</summary>
    [Theory]
    [MemberData(nameof(AxisOps))]
    public void EveryOpCountsPerSampleAxes(string call, string output)
    {
        var result = GeneratorHarness.RunChecked(DiagnosticTests.Usings + $$"""
            [Model]
            public partial class Net
            {
                [Forward] public Tensor Forward([Shape(3, 4)] Tensor x) => {{call}};
            }
            """);
        Assert.True(result.Diagnostics.IsEmpty, result.DiagnosticsText);
        string shape = output.Substring(4, output.Length - 5); // (B, 3, 4) → "3, 4"
        Assert.Contains($"outputShape: new[] {{ {shape} }}", result.Source("Net.g.cs"));
    }
}
