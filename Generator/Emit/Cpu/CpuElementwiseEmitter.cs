using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;
using ModelGen.Generator.Passes;

namespace ModelGen.Generator.Emit.Cpu;

/// <summary>
/// Emits one fused elementwise unit as a single loop: a Vector512 body when AVX-512 is active, a Vector256
/// body for AVX2, and a scalar tail (or scalar loop). Operands are read as whole tensors, rows (a bias along
/// the last dimension), columns (one value per row) or scalars; intermediate values stay in registers.
/// </summary>
internal static class CpuElementwiseEmitter
{
    enum Mode { Scalar, V256, V512 }

    sealed class Operand
    {
        public int Node;
        public Access Access;
        public string Ref = "";      // ref local for loads
        public string Hoisted = "";  // a scalar or per-row value
    }

    public static void Emit(CodeWriter w, Graph g, Unit unit, BufferNames names)
    {
        var shape = g[unit.Last].Shape;
        foreach (int id in unit.Nodes)
            if (!g[id].Shape.Equals(shape)) throw new InvalidOperationException($"fused unit mixes shapes {g[id].Shape} and {shape}");
        var inside = new HashSet<int>(unit.Nodes);
        var operands = new Dictionary<int, Operand>();
        foreach (int id in unit.Inputs)
        {
            var n = g[id];
            var access = n.Op == "Const" ? Access.Scalar : Broadcasting.Classify(n.Shape, shape);
            if (access == Access.Other) throw new InvalidOperationException($"operand {n.Shape} of a loop over {shape} was not materialized");
            operands[id] = new Operand { Node = id, Access = access };
        }
        bool twoLevel = operands.Values.Any(o => o.Access is Access.Row or Access.Column);

        w.Line($"// Fused loop over {shape}:");
        foreach (int id in unit.Nodes) w.Line($"//   {Local(id)} = {Names.Comment(Describe(g, g[id], inside, names))}");
        w.Open("");

        // Refs to the memory the loop reads and writes, and values that do not change per element.
        int r = 0;
        foreach (var o in operands.Values)
        {
            var n = g[o.Node];
            if (n.Op == "Const") { o.Hoisted = Names.Float(n.Value); continue; }
            if (o.Access == Access.Scalar)
            {
                o.Hoisted = "k" + o.Node;
                w.Line($"float {o.Hoisted} = {names.Name(o.Node)}[0];");
                continue;
            }
            o.Ref = "x" + r++;
            w.Line($"ref float {o.Ref} = ref MemoryMarshal.GetReference({names.Name(o.Node)});");
        }
        var outputs = unit.Outputs.Select(id => (Node: id, Ref: "y" + id)).ToList();
        foreach (var (id, reference) in outputs) w.Line($"ref float {reference} = ref MemoryMarshal.GetReference({names.Name(id)});");

        if (twoLevel)
        {
            w.Line($"int rows = {shape.ProductExpr(0, shape.Rank - 1)}, cols = {shape.DimExpr(shape.Rank - 1)};");
            w.Open("for (int r = 0; r < rows; r++)");
            w.Line("int row = r * cols, c = 0;");
            foreach (var o in operands.Values.Where(o => o.Access == Access.Column))
            {
                o.Hoisted = "col" + o.Node;
                w.Line($"float {o.Hoisted} = Unsafe.Add(ref {o.Ref}, r);");
            }
            Loops(w, g, unit, operands, outputs, "cols", "c", full: "row + c", row: "c", vectorLength: shape[shape.Rank - 1]);
            w.Close();
        }
        else
        {
            w.Line($"int n = {shape.CountExpr()}, i = 0;");
            Loops(w, g, unit, operands, outputs, "n", "i", full: "i", row: "i", vectorLength: shape.IsBatched ? int.MaxValue : shape.FixedCount);
        }
        w.Close();
    }

    static void Loops(CodeWriter w, Graph g, Unit unit, Dictionary<int, Operand> operands, List<(int Node, string Ref)> outputs,
        string count, string index, string full, string row, int vectorLength)
    {
        // A loop shorter than one Vector256 (a scalar, a few columns) gets only the scalar loop.
        bool vectorizable = vectorLength >= 8 && unit.Nodes.All(id => OpTable.Get(g[id].Op).Vector != null);
        if (vectorizable)
        {
            w.Open("if (Vector512.IsHardwareAccelerated && CpuFeatures.Active == SimdLevel.Avx512)");
            Body(w, g, unit, operands, outputs, Mode.V512, $"for (; {index} <= {count} - Vector512<float>.Count; {index} += Vector512<float>.Count)", full, row);
            w.Close();
            w.Open("else if (Vector256.IsHardwareAccelerated && CpuFeatures.Active >= SimdLevel.Avx2)");
            Body(w, g, unit, operands, outputs, Mode.V256, $"for (; {index} <= {count} - Vector256<float>.Count; {index} += Vector256<float>.Count)", full, row);
            w.Close();
        }
        Body(w, g, unit, operands, outputs, Mode.Scalar, $"for (; {index} < {count}; {index}++)", full, row);
    }

    static void Body(CodeWriter w, Graph g, Unit unit, Dictionary<int, Operand> operands, List<(int Node, string Ref)> outputs,
        Mode mode, string loop, string full, string row)
    {
        string vec = mode == Mode.V512 ? "Vector512" : "Vector256";
        // Splat scalars once, outside the loop.
        if (mode != Mode.Scalar)
            foreach (var o in operands.Values.Where(o => o.Hoisted.Length > 0))
                w.Line($"var {Splat(o)}_{vec} = {vec}.Create({o.Hoisted});");
        w.Open(loop);
        var value = new Dictionary<int, string>();
        foreach (var o in operands.Values)
        {
            if (o.Hoisted.Length > 0)
            {
                value[o.Node] = mode == Mode.Scalar ? o.Hoisted : $"{Splat(o)}_{vec}";
                continue;
            }
            string at = o.Access == Access.Row ? row : full;
            string name = "a" + o.Node;
            w.Line(mode == Mode.Scalar
                ? $"float {name} = Unsafe.Add(ref {o.Ref}, {at});"
                : $"var {name} = {vec}.LoadUnsafe(ref {o.Ref}, (nuint)({at}));");
            value[o.Node] = name;
        }
        foreach (int id in unit.Nodes)
        {
            var n = g[id];
            var def = OpTable.Get(n.Op);
            string template = mode == Mode.Scalar ? def.Scalar! : Vectorize(def.Vector!, vec);
            string expr = template;
            for (int k = 0; k < n.Inputs.Length; k++) expr = expr.Replace("{" + k + "}", value[n.Inputs[k]]);
            w.Line($"{(mode == Mode.Scalar ? "float" : "var")} {Local(id)} = {expr};");
            value[id] = Local(id);
        }
        foreach (var (id, reference) in outputs)
            w.Line(mode == Mode.Scalar
                ? $"Unsafe.Add(ref {reference}, {full}) = {value[id]};"
                : $"{value[id]}.StoreUnsafe(ref {reference}, (nuint)({full}));");
        w.Close();
    }

    static string Splat(Operand o) => "s" + o.Node;

    static string Local(int id) => "v" + id;

    /// <summary>Turns a template's V (the vector type) into Vector512 or Vector256.</summary>
    static string Vectorize(string template, string vec) => Regex.Replace(template, @"\bV(?=[.<])", vec);

    static string Describe(Graph g, Node n, HashSet<int> inside, BufferNames names)
    {
        var args = n.Inputs.Select(i => inside.Contains(i) ? Local(i) : g[i].Op == "Const" ? Names.Float(g[i].Value) : names.Name(i));
        string text = $"{n.Op}({string.Join(", ", args)})";
        return n.Label.Length > 0 && !n.IsBackward ? text + "   ← " + n.Label : text;
    }
}
