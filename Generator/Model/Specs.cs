using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace ModelGen.Generator.Model;

// The pipeline model: what the parser read from a [Model] class. Equatable records only: no ISymbol,
// SyntaxNode or Location (a test walks these types and fails on any), so an unrelated edit compares equal
// and re-emits nothing.

/// <summary>A source position that can become a <see cref="Location"/> again when a diagnostic is reported.</summary>
public sealed record SourceSpan(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    public static SourceSpan From(SyntaxNode node) => From(node.GetLocation());

    public static SourceSpan From(Location location)
    {
        var line = location.GetLineSpan();
        return new SourceSpan(line.Path ?? "", location.SourceSpan.Start, location.SourceSpan.Length,
            line.StartLinePosition.Line, line.StartLinePosition.Character, line.EndLinePosition.Line, line.EndLinePosition.Character);
    }

    public Location ToLocation() => Location.Create(FilePath, new TextSpan(Start, Length),
        new LinePositionSpan(new LinePosition(StartLine, StartColumn), new LinePosition(EndLine, EndColumn)));
}

/// <summary>A diagnostic found while parsing or compiling, reported by the source output stage.</summary>
public sealed record DiagnosticInfo(string Id, SourceSpan? Span, EquatableArray<string> Args)
{
    /// <summary>Further places the diagnostic is about (e.g. the op inside a module that a call's input does not fit).</summary>
    public EquatableArray<SourceSpan> Additional { get; init; } = EquatableArray<SourceSpan>.Empty;
}

/// <summary>Everything the generator needs to emit one [Model] or [Module] class.</summary>
/// <param name="Namespace">The containing namespace, empty for the global one.</param>
/// <param name="ClassName">The class name.</param>
/// <param name="ContainingTypes">Declarations of containing types, outermost first (e.g. "partial class Outer").</param>
/// <param name="IsModel">True for [Model], false for [Module].</param>
/// <param name="Root">The instance tree with every layer, module and parameter (for a [Module], with the defaults of its constructor).</param>
/// <param name="Types">The forward (and loss) bodies of the root class and of every module class it uses.</param>
/// <param name="Loss">The [Loss] method of a model, if any.</param>
/// <param name="DeclaredParameters">The [Parameter] properties declared by this class (emitted as partial property bodies).</param>
/// <param name="LayerFields">Fields of the class that hold layers or modules (bound to the parameter arena by generated code).</param>
/// <param name="Diagnostics">Problems found by the parser; emission stops at the first error.</param>
public sealed record ClassSpec(
    string Namespace,
    string ClassName,
    string Accessibility,
    EquatableArray<string> ContainingTypes,
    bool IsModel,
    string SourceFile,
    InstanceSpec? Root,
    EquatableArray<TypeSpec> Types,
    MethodSpec? Loss,
    EquatableArray<DeclaredParameter> DeclaredParameters,
    EquatableArray<LayerField> LayerFields,
    EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>A field that holds a layer or module, or an array of them; without a value (reported), it is not bound.</summary>
public sealed record LayerField(string Name, bool IsArray, bool HasValue = true);

/// <summary>
/// A [Parameter] partial property as declared. An invalid one (reported) gets an implementation part that throws, so
/// that the partial declaration compiles and the diagnostic is the only error: <paramref name="Type"/> and
/// <paramref name="Accessors"/> (e.g. "get", "private set") repeat its declaration.
/// </summary>
public sealed record DeclaredParameter(string Name, string Accessibility, EquatableArray<int> Shape, string Init, bool Valid = true,
    string Type = "Tensor", EquatableArray<string> Accessors = default);

/// <summary>One object in the instance tree: a built-in layer or a module, with its evaluated constructor arguments.</summary>
/// <param name="Path">The parameter path prefix, such as "hidden" or "blocks.2" (empty for the model itself).</param>
/// <param name="TypeKey">A fully qualified module type, or a built-in layer name such as "Linear".</param>
/// <param name="Args">Evaluated constant constructor arguments of a built-in layer.</param>
public sealed record InstanceSpec(
    string Path,
    string TypeKey,
    EquatableArray<double> Args,
    EquatableArray<FieldSpec> Fields,
    EquatableArray<ParamSpec> Parameters);

/// <summary>A field holding a layer, a module or an array of them.</summary>
public sealed record FieldSpec(string Name, bool IsArray, EquatableArray<InstanceSpec> Items);

/// <summary>
/// A parameter tensor of an instance: [Parameter] property or a built-in layer's weight; not trainable for
/// state that is saved with the model but not optimized (BatchNorm's running statistics).
/// </summary>
public sealed record ParamSpec(string Name, EquatableArray<int> Shape, string Init, bool Trainable = true)
{
    /// <summary>The standard deviation (Init.Normal) or bound (Init.Uniform) when set; NaN for the runtime's default.</summary>
    public double Scale { get; init; } = double.NaN;
}

/// <summary>A module or model class's methods, shared by all its instances.</summary>
public sealed record TypeSpec(string TypeKey, MethodSpec? Forward);

/// <summary>A [Forward] or [Loss] method: its parameters and body.</summary>
public sealed record MethodSpec(string Name, EquatableArray<MethodParam> Params, EquatableArray<Stmt> Body, SourceSpan Span);

/// <summary>A method parameter: a tensor (with a [Shape] for model inputs), labels, or an int.</summary>
public sealed record MethodParam(string Name, ParamKind Kind, EquatableArray<int> Shape, bool HasShape, SourceSpan Span);

public enum ParamKind { Tensor, Labels, Int, Other }

// ---- statements and expressions of a forward body, resolved against symbols by the parser ----

public abstract record Stmt(SourceSpan Span);

/// <summary><c>var name = value;</c> or <c>name = value;</c></summary>
public sealed record AssignStmt(string Name, Expr Value, SourceSpan Span) : Stmt(Span);

/// <summary><c>for (int v = from; v &lt; to; v += step) body</c> with bounds evaluated when lowered.</summary>
public sealed record ForStmt(string Variable, Expr From, Expr To, bool Inclusive, int Step, EquatableArray<Stmt> Body, SourceSpan Span) : Stmt(Span);

public sealed record ReturnStmt(Expr Value, SourceSpan Span) : Stmt(Span);

public abstract record Expr(SourceSpan Span);

/// <summary>A number literal or constant.</summary>
public sealed record ConstExpr(double Value, SourceSpan Span) : Expr(Span);

/// <summary>A local variable, a loop variable or a method parameter.</summary>
public sealed record LocalExpr(string Name, SourceSpan Span) : Expr(Span);

/// <summary>A field or [Parameter] property of the current instance, optionally indexed (<c>blocks[i]</c>).</summary>
public sealed record MemberExpr(string Name, Expr? Index, SourceSpan Span) : Expr(Span);

/// <summary><c>field.Length</c> of an array field.</summary>
public sealed record LengthExpr(string Field, SourceSpan Span) : Expr(Span);

/// <summary>A call to an op of <c>ModelGen.Ops</c> (arguments in declaration order, defaults filled in).</summary>
public sealed record OpCallExpr(string Op, EquatableArray<Expr> Args, SourceSpan Span) : Expr(Span);

/// <summary>A call to a method (Forward) of a layer or module held in a field.</summary>
public sealed record LayerCallExpr(Expr Target, string Method, EquatableArray<Expr> Args, SourceSpan Span) : Expr(Span);

/// <summary>A binary operator: + - * / on tensors and numbers.</summary>
public sealed record BinaryExpr(string Op, Expr Left, Expr Right, string Text, SourceSpan Span) : Expr(Span);

/// <summary>Unary minus.</summary>
public sealed record NegateExpr(Expr Operand, SourceSpan Span) : Expr(Span);

/// <summary>Walks of the instance tree shared by lowering and emission.</summary>
public static class InstanceTree
{
    /// <summary>Every parameter of the tree with its full path name ("hidden.weight", "blocks.2.fc.bias"), in tree order.</summary>
    public static System.Collections.Generic.IEnumerable<(string Name, string Scope, ParamSpec Param)> Parameters(InstanceSpec instance)
    {
        foreach (var p in instance.Parameters)
            yield return (instance.Path.Length == 0 ? p.Name : instance.Path + "." + p.Name, instance.Path, p);
        foreach (var f in instance.Fields)
            foreach (var item in f.Items)
                foreach (var nested in Parameters(item)) yield return nested;
    }
}
