using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// Whatever the input, the generator never throws and never falls into its internal-error path (MG0011): malformed,
/// half-typed and odd classes get a proper diagnostic or nothing. The truncation fuzz replays typing each sample model.
/// </summary>
public class RobustnessTests
{
    const string Head = "using ModelGen;\nusing static ModelGen.Ops;\n";

    public static IEnumerable<object[]> Malformed => new Dictionary<string, string>
    {
        ["missing closing brace"] = "[Model] public partial class Net { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);",
        ["forward cut off after ("] = "[Model] public partial class Net { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward(",
        ["forward cut off in parameter list"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor",
        ["arrow with nothing"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => }",
        ["empty block body"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) { } }",
        ["return without value"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) { return; } }",
        ["abstract forward"] = "[Model] public abstract partial class Net { [Forward] public abstract Tensor Forward([Shape(4)] Tensor x); }",
        ["recursive forward"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => Forward(x); }",
        ["mutually recursive modules"] = """
            [Module] public partial class A { readonly B b = new(); [Forward] public Tensor Forward(Tensor x) => b.Forward(x); }
            [Module] public partial class B { readonly A a = new(); [Forward] public Tensor Forward(Tensor x) => a.Forward(x); }
            [Model] public partial class Net { readonly A a = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => a.Forward(x); }
            """,
        ["module containing itself in an array"] = """
            [Module] public partial class A { readonly A[] more = Repeat(2, () => new A()); [Forward] public Tensor Forward(Tensor x) => more[0].Forward(x); }
            [Model] public partial class Net { readonly A a = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => a.Forward(x); }
            """,
        ["module forward calling itself"] = """
            [Module] public partial class A { [Forward] public Tensor Forward(Tensor x) => Forward(x); }
            [Model] public partial class Net { readonly A a = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => a.Forward(x); }
            """,
        ["for with no bounds"] = "[Model] public partial class Net { readonly Linear fc = new(4, 4); [Forward] public Tensor Forward([Shape(4)] Tensor x) { for (;;) x = fc.Forward(x); return x; } }",
        ["for with missing condition"] = "[Model] public partial class Net { readonly Linear fc = new(4, 4); [Forward] public Tensor Forward([Shape(4)] Tensor x) { for (int i = 0; ; i++) x = fc.Forward(x); return x; } }",
        ["for with huge bound"] = "[Model] public partial class Net { readonly Linear fc = new(4, 4); [Forward] public Tensor Forward([Shape(4)] Tensor x) { for (int i = 0; i < 1000000000; i++) x = fc.Forward(x); return x; } }",
        ["index out of range"] = "[Model] public partial class Net { readonly Linear[] fc = { new(4, 4) }; [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc[5].Forward(x); }",
        ["nonsense types"] = "[Model] public partial class Net { readonly Frobnicator f = new(); [Forward] public Blob Forward([Shape(4)] Widget x) => f.Go(x); }",
        ["shape with no arguments"] = "[Model] public partial class Net { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward([Shape] Tensor x) => fc.Forward(x); }",
        ["shape with a string"] = "[Model] public partial class Net { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward([Shape(\"four\")] Tensor x) => fc.Forward(x); }",
        ["parameter with no arguments"] = "[Model] public partial class Net { [Parameter] public partial Tensor W { get; } [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W); }",
        ["generic model"] = "[Model] public partial class Net<T> { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x); }",
        ["static model"] = "[Model] public static partial class Net { [Forward] public static Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["nested model in non-partial outer class"] = "public class Outer { [Model] public partial class Net { readonly Linear fc = new(4, 2); [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x); } }",
        ["model on a record"] = "[Model] public partial record Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["model on a struct"] = "[Model] public partial struct Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["linear with zero size"] = "[Model] public partial class Net { readonly Linear fc = new(0, 2); [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x); }",
        ["linear with negative size from arithmetic"] = "[Model] public partial class Net { readonly Linear fc = new(4 - 8, 2 / 0); [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x); }",
        ["softmax axis out of range"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => Softmax(x, 7); }",
        ["sum to a scalar output"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => Sum(x); }",
        ["loss on the wrong labels"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; [Loss] public Tensor Loss(Tensor y, Labels l) => SoftmaxCrossEntropy(y, null!); }",
        ["cross entropy on rank 3 logits"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(2, 4)] Tensor x) => x; [Loss] public Tensor Loss(Tensor y, Labels l) => SoftmaxCrossEntropy(y, l); }",
        ["matmul with a vector"] = "[Model] public partial class Net { [Parameter(4)] public partial Tensor W { get; } [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W); }",
        ["partial declared twice"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; } [Model] public partial class Net { readonly Linear fc = new(4, 2); }",
        ["model and module at once"] = "[Model, Module] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["two forward methods in two parts"] = "public partial class Net { [Forward] public Tensor F1([Shape(4)] Tensor x) => x; } [Model] public partial class Net { [Forward] public Tensor F2([Shape(4)] Tensor x) => x; }",
        ["repeat with lambda block body"] = "[Module] public partial class B { [Forward] public Tensor Forward(Tensor x) => x; } [Model] public partial class Net { readonly B[] bs = Repeat(2, () => { return new B(); }); [Forward] public Tensor Forward([Shape(4)] Tensor x) => bs[0].Forward(x); }",
        ["repeat with negative count"] = "[Module] public partial class B { [Forward] public Tensor Forward(Tensor x) => x; } [Model] public partial class Net { readonly B[] bs = Repeat(-2, () => new B()); [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["layer array indexed by a tensor"] = "[Model] public partial class Net { readonly Linear[] fc = { new(4, 4) }; [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc[x].Forward(x); }",
        ["local used before assignment"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) { Tensor y; return Relu(y); } }",
        ["lambda in forward"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) { System.Func<Tensor, Tensor> f = t => Relu(t); return f(x); } }",
        ["forward returning a number"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => 3; }",
        ["string in forward"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => Relu(\"x\"); }",
        ["attribute on a method, not a class"] = "public partial class Net { [Model] public void M() { } }",
        ["model on a positional record"] = "[Model] public partial record Net(int Width) { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["model on a record struct"] = "[Model] public partial record struct Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => x; }",
        ["module on a record used by a model"] = "[Module] public partial record B { [Forward] public Tensor Forward(Tensor x) => x; } [Model] public partial class Net { readonly B b = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => b.Forward(x); }",
        ["parameter with an init accessor"] = "[Model] public partial class Net { [Parameter(4)] public partial Tensor W { get; private init; } [Forward] public Tensor Forward([Shape(4)] Tensor x) => x * W; }",
        ["static parameter"] = "[Model] public partial class Net { [Parameter(4)] public static partial Tensor W { get; } [Forward] public Tensor Forward([Shape(4)] Tensor x) => x * W; }",
        ["local function calling itself"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) { Tensor F(Tensor t) => F(t); return F(x); } }",
        ["shape error in a module nested three deep"] = """
            [Module] public partial class C { readonly Linear fc = new(8, 8); [Forward] public Tensor Forward(Tensor x) => fc.Forward(x); }
            [Module] public partial class B { readonly C c = new(); [Forward] public Tensor Forward(Tensor x) => c.Forward(x); }
            [Module] public partial class A { readonly B[] bs = Repeat(2, () => new B()); [Forward] public Tensor Forward(Tensor x) => bs[1].Forward(bs[0].Forward(x)); }
            [Model] public partial class Net { readonly A a = new(); [Forward] public Tensor Forward([Shape(4)] Tensor x) => a.Forward(x); }
            """,
        ["axis on a batch-only tensor"] = "[Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => Softmax(Sum(x, 0)); }",
        ["axis on a parameter"] = "[Model] public partial class Net { [Parameter(4)] public partial Tensor W { get; } [Forward] public Tensor Forward([Shape(4)] Tensor x) => x * Softmax(W); }",
    }.Select(p => new object[] { p.Key, p.Value });

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedSourceGivesDiagnosticsNotExceptions(string name, string source)
    {
        var result = GeneratorHarness.Run(Head + source);
        Assert.True(result.Exception == null, $"{name}: {result.Exception}");
        Assert.False(result.Diagnostics.Any(d => d.Id == "MG0011"), $"{name}: internal error\n{result.DiagnosticsText}");
    }

    public static IEnumerable<object[]> Samples => SampleModels.All;

    /// <summary>Every prefix of each sample model (every 7th character), as if the file were being typed.</summary>
    [Theory]
    [MemberData(nameof(Samples))]
    public void TruncatedSamplesNeverThrow(string model)
    {
        string source = SampleModels.Get(model);
        var failures = new List<string>();
        for (int length = 0; length <= source.Length; length += 7)
        {
            var result = GeneratorHarness.Run(source.Substring(0, length));
            if (result.Exception != null) failures.Add($"prefix {length}: {result.Exception.GetType().Name}: {result.Exception.Message}");
            foreach (var d in result.Diagnostics.Where(d => d.Id == "MG0011"))
                failures.Add($"prefix {length}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }
}
