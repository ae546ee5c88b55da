using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Passes;

/// <summary>
/// Lowers a parsed model to a graph: evaluates the [Forward] body (and the [Loss] body when training) over
/// symbolic tensors, inlining module calls and unrolling constant-bound loops, so that every op becomes a node
/// with a static shape. A shape mismatch or a construct without a static meaning becomes a diagnostic at its span.
/// </summary>
internal sealed class Lowering
{
    const int MaxUnrolled = 100_000;

    readonly ClassSpec _spec;
    readonly GraphBuilder _b;
    readonly Dictionary<string, TypeSpec> _types;
    readonly Dictionary<string, int> _paramNodes = new(StringComparer.Ordinal);
    readonly List<DiagnosticInfo> _diagnostics = new();
    readonly bool _training;
    /// <summary>For a shape error of a layer: the node that did not fit and what the layer expects of it.</summary>
    readonly Dictionary<DiagnosticInfo, (int Node, string Expects)> _expectations = new();
    int _unrolled;

    Lowering(ClassSpec spec, bool training)
    {
        _spec = spec;
        _training = training;
        _b = new GraphBuilder(new Graph());
        _types = spec.Types.ToDictionary(t => t.TypeKey, StringComparer.Ordinal);
    }

    /// <summary>
    /// Builds the forward graph (and the loss when <paramref name="withLoss"/>) of the training or the inference
    /// variant; null when a diagnostic was reported.
    /// </summary>
    public static Graph? Lower(ClassSpec spec, bool withLoss, bool training, List<DiagnosticInfo> diagnostics)
    {
        var lowering = new Lowering(spec, training);
        var graph = lowering.Run(withLoss);
        diagnostics.AddRange(lowering._diagnostics);
        return lowering._diagnostics.Count == 0 ? graph : null;
    }

    Graph? Run(bool withLoss)
    {
        var root = _spec.Root!;
        var g = _b.Graph;
        AddParameters(root);
        var forward = _types.TryGetValue(root.TypeKey, out var t) ? t.Forward : null;
        if (forward == null) return null;

        var tensors = forward.Params.Where(p => p.Kind == ParamKind.Tensor).ToList();
        if (tensors.Count != 1 || forward.Params.Count != 1)
        {
            Report("MG0008", forward.Span, forward.Name, "a model's [Forward] takes exactly one Tensor input (with [Shape(...)])");
            return null;
        }
        var input = tensors[0];
        if (!input.HasShape)
        {
            Report("MG0006", input.Span, input.Name, "a model input needs its per-sample shape, e.g. [Shape(784)] Tensor image");
            return null;
        }
        g.Input = _b.Source("Input", Shape.Batched(input.Shape.ToArray()), input.Name);
        var output = Invoke(root, forward, new List<Value> { new TensorValue(g.Input) }, forward.Span);
        if (output is not TensorValue ov)
        {
            if (_diagnostics.Count == 0)
                Report("MG0004", forward.Span, forward.Name, output == null ? "the forward body does not return a tensor" : "the forward body must return a tensor");
            return null;
        }
        if (!g[ov.Node].Shape.IsBatched)
        {
            Report("MG0002", forward.Span, forward.Name, $"the forward output has shape {g[ov.Node].Shape}; it must keep the batch dimension B first");
            return null;
        }
        g.Output = ov.Node;

        if (withLoss && _spec.Loss is { } loss)
        {
            if (loss.Params.Count != 2 || loss.Params[0].Kind != ParamKind.Tensor || loss.Params[1].Kind is not (ParamKind.Tensor or ParamKind.Labels))
            {
                Report("MG0008", loss.Span, loss.Name, "a [Loss] takes the forward output (Tensor) and the target (Labels or Tensor)");
                return null;
            }
            Value target;
            if (loss.Params[1].Kind == ParamKind.Labels)
            {
                g.Labels = _b.Source("Labels", Shape.Batched(), loss.Params[1].Name);
                target = new LabelsValue(g.Labels);
            }
            else
            {
                g.Target = _b.Source("Target", g[ov.Node].Shape, loss.Params[1].Name);
                target = new TensorValue(g.Target);
            }
            _b.Scope = "";
            var lossValue = Invoke(root, loss, new List<Value> { ov, target }, loss.Span, scope: "loss");
            if (lossValue is not TensorValue lv)
            {
                if (_diagnostics.Count == 0) Report("MG0004", loss.Span, loss.Name, "the loss body must return a tensor");
                return null;
            }
            if (g[lv.Node].Shape.Rank != 0)
            {
                Report("MG0002", loss.Span, loss.Name, $"the loss has shape {g[lv.Node].Shape}; it must be a scalar (reduce it with Mean or Sum)");
                return null;
            }
            g.Loss = lv.Node;
        }
        return g;
    }

    void AddParameters(InstanceSpec root)
    {
        foreach (var (name, scope, p) in InstanceTree.Parameters(root))
        {
            int id = _b.Source("Parameter", new Shape(p.Shape.ToArray()), name);
            _b.Graph[id].Scope = scope;
            _b.Graph[id].Trainable = p.Trainable;
            _paramNodes[name] = id;
            _b.Graph.Parameters.Add((name, id));
        }
    }

    Value? Invoke(InstanceSpec self, MethodSpec method, List<Value> args, SourceSpan site, string? scope = null)
    {
        var env = new Dictionary<string, Value>(StringComparer.Ordinal);
        for (int i = 0; i < method.Params.Count && i < args.Count; i++) env[method.Params[i].Name] = args[i];
        string saved = _b.Scope;
        _b.Scope = scope ?? self.Path;
        try
        {
            return Execute(method.Body, self, env);
        }
        finally
        {
            _b.Scope = saved;
        }
    }

    /// <summary>Runs statements; returns the value of the first return reached.</summary>
    Value? Execute(EquatableArray<Stmt> body, InstanceSpec self, Dictionary<string, Value> env)
    {
        foreach (var stmt in body)
        {
            switch (stmt)
            {
                case AssignStmt a:
                    if (Eval(a.Value, self, env) is { } v) env[a.Name] = v;
                    else return null;
                    break;
                case ForStmt f:
                    {
                        if (Number(f.From, self, env) is not { } from || Number(f.To, self, env) is not { } to) return null;
                        for (double i = from; f.Inclusive ? i <= to : i < to; i += f.Step)
                        {
                            if (++_unrolled > MaxUnrolled)
                            {
                                Report("MG0004", f.Span, "for", $"the loops unroll to more than {MaxUnrolled} iterations");
                                return null;
                            }
                            env[f.Variable] = new NumberValue(i);
                            var r = Execute(f.Body, self, env);
                            if (r != null) return r;
                            if (_diagnostics.Count > 0) return null;
                        }
                        break;
                    }
                case ReturnStmt r:
                    return Eval(r.Value, self, env);
            }
            if (_diagnostics.Count > 0) return null;
        }
        return null;
    }

    double? Number(Expr e, InstanceSpec self, Dictionary<string, Value> env)
    {
        var v = Eval(e, self, env);
        if (v is NumberValue n) return n.Number;
        if (v != null) Report("MG0004", e.Span, ExprPrinter.Print(e), "a loop bound or index must be a constant number");
        return null;
    }

    Value? Eval(Expr e, InstanceSpec self, Dictionary<string, Value> env)
    {
        try
        {
            return EvalCore(e, self, env);
        }
        catch (CompileError error)
        {
            // An error about one argument (an axis) is reported at that argument.
            var span = e is OpCallExpr call && error.Argument is int i && i < call.Args.Count ? call.Args[i].Span : e.Span;
            Report(error.Id, span, error.Args);
            if (error.Expects != null) _expectations[_diagnostics[_diagnostics.Count - 1]] = (error.Input, error.Expects);
            return null;
        }
    }

    Value? EvalCore(Expr e, InstanceSpec self, Dictionary<string, Value> env)
    {
        switch (e)
        {
            case ConstExpr c:
                return new NumberValue(c.Value);
            case LocalExpr l:
                if (env.TryGetValue(l.Name, out var v)) return v;
                throw new CompileError("MG0004", l.Name, "the variable has no value here");
            case LengthExpr len:
                {
                    var field = self.Fields.FirstOrDefault(f => f.Name == len.Field);
                    if (field == null || !field.IsArray) throw new CompileError("MG0004", len.Field + ".Length", "not an array of layers or modules");
                    return new NumberValue(field.Items.Count);
                }
            case MemberExpr m:
                return Member(m, self, env);
            case NegateExpr n:
                {
                    var x = Eval(n.Operand, self, env);
                    return x switch
                    {
                        NumberValue num => new NumberValue(-num.Number),
                        TensorValue t => Node(n, () => _b.Op("Neg", new[] { t.Node })),
                        null => null,
                        _ => throw new CompileError("MG0004", ExprPrinter.Print(n), "only tensors and numbers can be negated"),
                    };
                }
            case BinaryExpr b:
                {
                    var l = Eval(b.Left, self, env);
                    var r = Eval(b.Right, self, env);
                    if (l == null || r == null) return null;
                    if (l is NumberValue x && r is NumberValue y)
                    {
                        return new NumberValue(b.Op switch { "+" => x.Number + y.Number, "-" => x.Number - y.Number, "*" => x.Number * y.Number, _ => x.Number / y.Number });
                    }
                    string op = b.Op switch { "+" => "Add", "-" => "Sub", "*" => "Mul", _ => "Div" };
                    int li = TensorOrConst(l, b.Left), ri = TensorOrConst(r, b.Right);
                    return Node(b, () => _b.Op(op, new[] { li, ri }));
                }
            case OpCallExpr call:
                return OpCall(call, self, env);
            case LayerCallExpr call:
                return LayerCall(call, self, env);
        }
        throw new CompileError("MG0004", ExprPrinter.Print(e), "unsupported expression");
    }

    int TensorOrConst(Value v, Expr e) => v switch
    {
        TensorValue t => t.Node,
        NumberValue n => _b.Const(n.Number),
        _ => throw new CompileError("MG0004", ExprPrinter.Print(e), "operators apply to tensors and numbers"),
    };

    TensorValue Node(Expr e, Func<int> build)
    {
        string saved = _b.Label;
        _b.Label = ExprPrinter.Print(e);
        try
        {
            return new TensorValue(build());
        }
        finally
        {
            _b.Label = saved;
        }
    }

    Value Member(MemberExpr m, InstanceSpec self, Dictionary<string, Value> env)
    {
        var field = self.Fields.FirstOrDefault(f => f.Name == m.Name);
        if (field != null)
        {
            if (m.Index == null) return field.IsArray ? new ArrayValue(field) : new InstanceValue(field.Items[0]);
            if (!field.IsArray) throw new CompileError("MG0004", m.Name, "only arrays of layers can be indexed");
            var index = Number(m.Index, self, env);
            if (index is not { } i) throw new CompileError("MG0004", ExprPrinter.Print(m), "the index must be a constant");
            if (i < 0 || i >= field.Items.Count || i != Math.Floor(i))
                throw new CompileError("MG0004", ExprPrinter.Print(m), $"index {i} is outside 0..{field.Items.Count - 1}");
            return new InstanceValue(field.Items[(int)i]);
        }
        string name = self.Path.Length == 0 ? m.Name : self.Path + "." + m.Name;
        if (m.Index == null && _paramNodes.TryGetValue(name, out int node)) return new TensorValue(node);
        throw new CompileError("MG0004", m.Name, "only layer and module fields and [Parameter] properties can be used in a forward body");
    }

    Value? LayerCall(LayerCallExpr call, InstanceSpec self, Dictionary<string, Value> env)
    {
        var target = Eval(call.Target, self, env);
        if (target == null) return null;
        if (target is not InstanceValue { Instance: var instance })
            throw new CompileError("MG0003", ExprPrinter.Print(call.Target) + "." + call.Method, "the target is not a layer or module");
        var args = new List<Value>();
        foreach (var a in call.Args)
        {
            var v = Eval(a, self, env);
            if (v == null) return null;
            args.Add(v);
        }
        if (Layers.TryGet(instance.TypeKey, out var layer))
        {
            string saved = _b.Scope;
            _b.Scope = instance.Path;
            try
            {
                var context = new LayerCall(instance, new LayerArgs(layer, instance.Args.ToArray()), args, ExprPrinter.Print(call), _b,
                    name => _paramNodes.TryGetValue(instance.Path + "." + name, out int node) ? node : -1, _training);
                return Node(call, () => layer.Forward(context));
            }
            finally
            {
                _b.Scope = saved;
            }
        }
        if (!_types.TryGetValue(instance.TypeKey, out var type) || type.Forward == null) return null;
        if (type.Forward.Params.Count != args.Count)
            throw new CompileError("MG0004", ExprPrinter.Print(call), $"Forward takes {type.Forward.Params.Count} arguments");
        int reported = _diagnostics.Count;
        var result = Invoke(instance, type.Forward, args, call.Span);
        if (result == null && _diagnostics.Count == 0)
            throw new CompileError("MG0004", ExprPrinter.Print(call), "the module's Forward does not return a value on every path");
        for (int i = reported; i < _diagnostics.Count; i++)
            if (_diagnostics[i].Id == "MG0002") _diagnostics[i] = AtModuleCall(_diagnostics[i], call, instance, args);
        return result;
    }

    /// <summary>
    /// A shape error inside a module's forward body, moved to the call that gave the module its input: it names the
    /// module's field and class, the input's shape and (when the op that failed takes that input as is) the shape the
    /// module expects; the place inside the module becomes an additional location.
    /// </summary>
    DiagnosticInfo AtModuleCall(DiagnosticInfo inner, LayerCallExpr call, InstanceSpec instance, List<Value> args)
    {
        string module = instance.TypeKey.Substring(instance.TypeKey.LastIndexOf('.') + 1);
        var inputs = args.OfType<TensorValue>().ToList();
        string given = string.Join(" and ", inputs.Select(t => _b.Graph[t.Node].Shape.ToString()));
        string expects = _expectations.TryGetValue(inner, out var x) && inputs.Any(t => t.Node == x.Node) ? $"{module} expects {x.Expects}; " : "";
        var moved = new DiagnosticInfo("MG0002", call.Span, EquatableArray.Of($"{ExprPrinter.Print(call)} ({module})",
            $"input {given} does not fit: {expects}inside {module}, {inner.Args[0]}: {inner.Args[1]}"))
        {
            Additional = (inner.Span == null ? inner.Additional : inner.Additional.Prepend(inner.Span)).ToEquatable(),
        };
        if (_expectations.TryGetValue(inner, out x)) _expectations[moved] = x;
        return moved;
    }

    Value? OpCall(OpCallExpr call, InstanceSpec self, Dictionary<string, Value> env)
    {
        var args = new List<Value>();
        foreach (var a in call.Args)
        {
            var v = Eval(a, self, env);
            if (v == null) return null;
            args.Add(v);
        }
        if (!OpCalls.TryGet(call.Op, out var rule))
            throw new CompileError("MG0003", call.Op, "this op of ModelGen.Ops has no compiled form in the op table");
        var context = new OpCall(call.Op, args, call.Args.Select(ExprPrinter.Print).ToList(), _b, _training);
        return Node(call, () => rule(context));
    }

    void Report(string id, SourceSpan span, params string[] args) => _diagnostics.Add(new DiagnosticInfo(id, span, args.ToEquatable()));
}

/// <summary>Prints a parsed expression back as C#-like source, for comments and messages.</summary>
internal static class ExprPrinter
{
    public static string Print(Expr e) => e switch
    {
        ConstExpr c => c.Value.ToString("R", CultureInfo.InvariantCulture),
        LocalExpr l => l.Name,
        MemberExpr { Index: null } m => m.Name,
        MemberExpr m => $"{m.Name}[{Print(m.Index!)}]",
        LengthExpr len => len.Field + ".Length",
        NegateExpr n => "-" + Wrap(n.Operand),
        BinaryExpr b => $"{Wrap(b.Left)} {b.Op} {Wrap(b.Right)}",
        OpCallExpr c => $"{c.Op}({string.Join(", ", c.Args.Select(Print))})",
        LayerCallExpr c => $"{Print(c.Target)}.{c.Method}({string.Join(", ", c.Args.Select(Print))})",
        _ => "?",
    };

    static string Wrap(Expr e) => e is BinaryExpr ? "(" + Print(e) + ")" : Print(e);
}
