using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Passes;

internal enum UnitKind { Elementwise, Kernel, Gemm }

/// <summary>One step of the program: a fused elementwise loop, a GEMM with its epilogue, or a kernel call.</summary>
internal sealed class Unit
{
    public UnitKind Kind { get; set; }

    /// <summary>Nodes computed by this unit, in dependency order.</summary>
    public List<int> Nodes { get; } = new();

    /// <summary>Nodes whose values leave the unit (stored to a buffer).</summary>
    public List<int> Outputs { get; } = new();

    /// <summary>
    /// A GEMM, or a kernel op with an absorbed activation: its nodes share one output buffer (that of
    /// <see cref="Last"/>), which is the only value the unit stores.
    /// </summary>
    public bool HasEpilogue => Kind == UnitKind.Gemm || (Kind == UnitKind.Kernel && Activation != "None");

    /// <summary>For a GEMM: the bias node added in the epilogue, or -1.</summary>
    public int Bias { get; set; } = -1;

    /// <summary>For a GEMM or a kernel op with <see cref="OpDef.FusesActivation"/>: the activation applied in the epilogue.</summary>
    public string Activation { get; set; } = "None";

    /// <summary>Values the unit reads from other units or sources.</summary>
    public List<int> Inputs { get; } = new();

    public int Last => Nodes[Nodes.Count - 1];
}

/// <summary>
/// Drops what the requested outputs do not need, fuses each MatMul with a following bias add and activation
/// into one GEMM call, fuses a kernel op that opts in (<see cref="OpDef.FusesActivation"/>, the convolutions) with a
/// following activation, fuses chains of elementwise ops of one shape into single loops, and orders the result.
/// </summary>
internal static class Fusion
{
    public static List<Unit> Run(Graph g, IReadOnlyCollection<int> required)
    {
        // Liveness: only what the outputs need.
        var live = new bool[g.Nodes.Count];
        var stack = new Stack<int>(required.Where(r => r >= 0));
        while (stack.Count > 0)
        {
            int id = stack.Pop();
            if (live[id]) continue;
            live[id] = true;
            foreach (int i in g[id].Inputs) stack.Push(i);
        }
        var consumers = new List<int>[g.Nodes.Count];
        for (int i = 0; i < consumers.Length; i++) consumers[i] = new List<int>();
        foreach (var n in g.Nodes)
            if (live[n.Id]) foreach (int i in n.Inputs.Distinct()) consumers[i].Add(n.Id);
        var requiredSet = new HashSet<int>(required);

        var unitOf = new int[g.Nodes.Count];
        for (int i = 0; i < unitOf.Length; i++) unitOf[i] = -1;
        var units = new List<Unit>();

        // GEMM epilogues: MatMul → + bias (a row) → activation, each used only by the next.
        foreach (var m in g.Nodes)
        {
            if (!live[m.Id] || m.Op != "MatMul") continue;
            var unit = new Unit { Kind = UnitKind.Gemm };
            unit.Nodes.Add(m.Id);
            if (!requiredSet.Contains(m.Id) && consumers[m.Id].Count == 1 && g[consumers[m.Id][0]] is { Op: "Add" } add && add.Shape.Equals(m.Shape))
            {
                int other = add.Inputs[0] == m.Id ? add.Inputs[1] : add.Inputs[0];
                var bias = g[other].Shape;
                if (add.Inputs[0] != add.Inputs[1] && bias.Rank == 1 && !bias.IsBatched && bias[0] == m.Shape[m.Shape.Rank - 1])
                {
                    unit.Nodes.Add(add.Id);
                    unit.Bias = other;
                    if (!requiredSet.Contains(add.Id) && consumers[add.Id].Count == 1 && g[consumers[add.Id][0]] is { Op: "Relu" or "Tanh" or "Sigmoid" } act)
                    {
                        unit.Nodes.Add(act.Id);
                        unit.Activation = act.Op;
                    }
                }
            }
            foreach (int n in unit.Nodes) unitOf[n] = units.Count;
            units.Add(unit);
        }

        // Kernel epilogues: an op whose row opts in → activation, the activation its only reader, in the same phase.
        foreach (var k in g.Nodes)
        {
            if (!live[k.Id] || unitOf[k.Id] >= 0 || !OpTable.Get(k.Op).FusesActivation) continue;
            if (requiredSet.Contains(k.Id) || consumers[k.Id].Count != 1 || g[consumers[k.Id][0]] is not { Op: "Relu" or "Tanh" or "Sigmoid" } act
                || !act.Shape.Equals(k.Shape) || Phase(act) != Phase(k)) continue;
            var unit = new Unit { Kind = UnitKind.Kernel, Activation = act.Op };
            unit.Nodes.Add(k.Id);
            unit.Nodes.Add(act.Id);
            foreach (int n in unit.Nodes) unitOf[n] = units.Count;
            units.Add(unit);
        }

        // Elementwise groups: union producers and consumers of one shape unless that would make a cycle.
        var parent = Enumerable.Range(0, g.Nodes.Count).ToArray();
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        bool Fusable(int id) => live[id] && unitOf[id] < 0 && OpTable.Get(g[id].Op).Kind == OpKind.Elementwise;
        foreach (var n in g.Nodes)
        {
            if (!Fusable(n.Id)) continue;
            foreach (int p in n.Inputs)
            {
                if (!Fusable(p) || !g[p].Shape.Equals(n.Shape) || Find(p) == Find(n.Id) || Phase(g[p]) != Phase(n)) continue;
                if (!CreatesCycle(g, live, consumers, parent, Find, Find(p), Find(n.Id))) parent[Find(p)] = Find(n.Id);
            }
        }
        var groups = new Dictionary<int, Unit>();

        // Forward, loss and backward nodes never share a loop: Infer runs only forward units, so a loop that mixed
        // in loss or gradient work would compute them (from stale buffers) on every inference.
        static int Phase(Node n) => n.IsBackward ? 2 : n.Scope == "loss" ? 1 : 0;
        foreach (var n in g.Nodes)
        {
            if (!live[n.Id] || unitOf[n.Id] >= 0) continue;
            var kind = OpTable.Get(n.Op).Kind;
            if (kind == OpKind.Source) continue;
            if (kind == OpKind.Elementwise)
            {
                int root = Find(n.Id);
                if (!groups.TryGetValue(root, out var group))
                {
                    groups[root] = group = new Unit { Kind = UnitKind.Elementwise };
                    unitOf[n.Id] = units.Count;
                    units.Add(group);
                }
                unitOf[n.Id] = units.IndexOf(group);
                group.Nodes.Add(n.Id);
            }
            else
            {
                var unit = new Unit { Kind = UnitKind.Kernel };
                unit.Nodes.Add(n.Id);
                unitOf[n.Id] = units.Count;
                units.Add(unit);
            }
        }

        // Inputs and outputs of each unit.
        for (int u = 0; u < units.Count; u++)
        {
            var unit = units[u];
            var inside = new HashSet<int>(unit.Nodes);
            foreach (int id in unit.Nodes)
            {
                foreach (int i in g[id].Inputs)
                    if (!inside.Contains(i) && !unit.Inputs.Contains(i)) unit.Inputs.Add(i);
                bool escapes = requiredSet.Contains(id) || consumers[id].Any(c => unitOf[c] != u);
                if (unit.HasEpilogue ? id == unit.Last : escapes) unit.Outputs.Add(id);
            }
        }
        return Order(g, units, unitOf);
    }

    /// <summary>
    /// Would merging groups a and b let a path leave the merged group and come back into it? Other groups
    /// count as single units: reaching one member reaches the consumers of all its members.
    /// </summary>
    static bool CreatesCycle(Graph g, bool[] live, List<int>[] consumers, int[] parent, Func<int, int> find, int a, int b)
    {
        var members = new Dictionary<int, List<int>>();
        foreach (var n in g.Nodes)
        {
            if (!live[n.Id]) continue;
            int r = find(n.Id);
            if (!members.TryGetValue(r, out var list)) members[r] = list = new List<int>();
            list.Add(n.Id);
        }
        bool InGroup(int id) => find(id) == a || find(id) == b;
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        foreach (int id in members[a].Concat(members[b]))
            foreach (int c in consumers[id]) if (!InGroup(c)) stack.Push(c);
        while (stack.Count > 0)
        {
            int id = stack.Pop();
            if (!seen.Add(find(id))) continue;
            foreach (int member in members[find(id)])
            {
                foreach (int c in consumers[member])
                {
                    if (InGroup(c)) return true;
                    stack.Push(c);
                }
            }
        }
        return false;
    }

    /// <summary>Topological order of units, keeping the source order where there is a choice.</summary>
    static List<Unit> Order(Graph g, List<Unit> units, int[] unitOf)
    {
        var deps = units.Select(u => new HashSet<int>(u.Inputs.Select(i => unitOf[i]).Where(x => x >= 0))).ToList();
        var done = new bool[units.Count];
        var result = new List<Unit>();
        while (result.Count < units.Count)
        {
            int best = -1;
            for (int u = 0; u < units.Count; u++)
            {
                if (done[u] || deps[u].Any(d => !done[d])) continue;
                if (best < 0 || units[u].Nodes.Min() < units[best].Nodes.Min()) best = u;
            }
            if (best < 0) throw new InvalidOperationException("the fused units form a cycle");
            done[best] = true;
            result.Add(units[best]);
        }
        return result;
    }
}
