using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit.Gpu;

/// <summary>
/// Emits one fused elementwise unit for the GPU: an ILGPU kernel (one thread per element) built from the op table's
/// scalar templates, the same expressions as the CPU's scalar loop, with its buffers in one struct; and at the unit's
/// place in the step, one launch of it. Operands are read as whole tensors (element i), rows (a bias, i % cols),
/// columns (one value per row, i / cols) or scalars (element 0, or a literal); intermediate values stay in registers.
/// </summary>
internal static class GpuElementwiseEmitter
{
    /// <param name="step">Where the launch goes (inside the step method).</param>
    /// <param name="kernels">Where the kernel and its argument struct go (the model's kernel class).</param>
    /// <param name="name">The kernel's name, unique in the model.</param>
    /// <param name="kernelClass">The kernel class's name, as the step refers to it.</param>
    public static void Emit(CodeWriter step, CodeWriter kernels, string name, string kernelClass, Graph g, Unit unit, BufferNames names)
    {
        var shape = g[unit.Last].Shape;
        foreach (int id in unit.Nodes)
            if (!g[id].Shape.Equals(shape)) throw new InvalidOperationException($"fused unit mixes shapes {g[id].Shape} and {shape}");
        var inside = new HashSet<int>(unit.Nodes);
        var access = new Dictionary<int, Access>();
        foreach (int id in unit.Inputs)
        {
            var n = g[id];
            var a = n.Op == "Const" ? Access.Scalar : Broadcasting.Classify(n.Shape, shape);
            if (a == Access.Other) throw new InvalidOperationException($"operand {n.Shape} of a loop over {shape} was not materialized");
            access[id] = a;
        }
        var reads = unit.Inputs.Where(id => g[id].Op != "Const").ToList();
        bool twoLevel = reads.Any(id => access[id] is Access.Row or Access.Column);

        // The argument struct: one view per buffer the kernel reads or writes.
        string args = name + "Args";
        kernels.Line($"/// <summary>The buffers of <see cref=\"{name}\"/>.</summary>");
        kernels.Open($"internal struct {args}");
        foreach (int id in reads)
            kernels.Line($"public ArrayView<float> {Field(id, names)}; // {g[id].Shape} {Names.Comment(AccessText(access[id]))}");
        foreach (int id in unit.Outputs)
            kernels.Line($"public ArrayView<float> {Field(id, names)}; // {g[id].Shape} written");
        if (twoLevel) kernels.Line("public int Cols; // the length of the last dimension");
        kernels.Close();
        kernels.Line();

        // The kernel: the same scalar expressions as the CPU loop, one element per thread.
        kernels.Line($"/// <summary>Fused loop over {shape}, one thread per element:</summary>");
        foreach (int id in unit.Nodes) kernels.Line($"/// <remarks>{Local(id)} = {Names.Comment(Escape(Describe(g, g[id], inside, names)))}</remarks>");
        kernels.Open($"internal static void {name}(Index1D i, {args} a)");
        var value = new Dictionary<int, string>();
        foreach (int id in unit.Inputs)
        {
            var n = g[id];
            if (n.Op == "Const")
            {
                value[id] = Names.Float(n.Value);
                continue;
            }
            string at = access[id] switch
            {
                Access.Scalar => "0",
                Access.Row => "i % a.Cols",
                Access.Column => "i / a.Cols",
                _ => "i",
            };
            kernels.Line($"float x{id} = a.{Field(id, names)}[{at}];");
            value[id] = "x" + id;
        }
        foreach (int id in unit.Nodes)
        {
            var n = g[id];
            string expr = OpTable.Get(n.Op).Scalar ?? throw new InvalidOperationException($"{n.Op} has no scalar template");
            for (int k = 0; k < n.Inputs.Length; k++) expr = expr.Replace("{" + k + "}", value[n.Inputs[k]]);
            kernels.Line($"float {Local(id)} = {expr};");
            value[id] = Local(id);
        }
        foreach (int id in unit.Outputs) kernels.Line($"a.{Field(id, names)}[i] = {value[id]};");
        kernels.Close();
        kernels.Line();

        // The launch.
        step.Line($"// Fused loop over {shape}, one GPU thread per element:");
        foreach (int id in unit.Nodes) step.Line($"//   {Local(id)} = {Names.Comment(Describe(g, g[id], inside, names))}");
        var fields = reads.Concat(unit.Outputs).Select(id => $"{Field(id, names)} = {names.Name(id)}").ToList();
        if (twoLevel) fields.Add($"Cols = {shape.DimExpr(shape.Rank - 1)}");
        step.Line($"Load(ref _{Lower(name)}, {kernelClass}.{name})(GpuDevice.Stream, {shape.CountExpr()}, new {kernelClass}.{args} {{ {string.Join(", ", fields)} }});");
    }

    static string Field(int id, BufferNames names) => names.Name(id);

    static string Local(int id) => "v" + id;

    internal static string Lower(string name) => char.ToLowerInvariant(name[0]) + name.Substring(1);

    static string AccessText(Access a) => a switch
    {
        Access.Scalar => "read: element 0",
        Access.Row => "read: element i % Cols (one value per column)",
        Access.Column => "read: element i / Cols (one value per row)",
        _ => "read: element i",
    };

    static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    static string Describe(Graph g, Node n, HashSet<int> inside, BufferNames names)
    {
        var args = n.Inputs.Select(i => inside.Contains(i) ? Local(i) : g[i].Op == "Const" ? Names.Float(g[i].Value) : names.Name(i));
        string text = $"{n.Op}({string.Join(", ", args)})";
        return n.Label.Length > 0 && !n.IsBackward ? text + "   ← " + n.Label : text;
    }
}
