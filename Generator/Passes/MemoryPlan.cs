using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Ops;

namespace ModelGen.Generator.Passes;

/// <summary>Where a value lives at run time.</summary>
internal enum Region
{
    /// <summary>The activation arena, in the part that scales with the batch: offset and length are per sample.</summary>
    Batched,
    /// <summary>The activation arena, after the batched part: offset and length in floats.</summary>
    Fixed,
    /// <summary>The parameter arena.</summary>
    Parameters,
    /// <summary>The gradient arena (same layout as the parameters).</summary>
    Gradients,
}

/// <summary>A buffer: region, offset and length (per sample for <see cref="Region.Batched"/>), all in floats.</summary>
internal readonly record struct Slot(Region Region, int Offset, int Length);

/// <summary>
/// Liveness-based memory plan (llm.c's one allocation): every value that leaves a fused unit gets a slice of
/// one activation arena, and slices are reused once their value is dead. Batched values are planned in
/// "floats per sample", so that one plan serves every batch size up to the arena's capacity; parameters and
/// their gradients live at fixed offsets of the two parameter arenas. Every offset is a multiple of 16 floats
/// (64 bytes, one Vector512). An elementwise loop writes its output over an operand that dies with it. The model's
/// input and target get no slot: the generated methods read the caller's spans in place (copying a batch of 64
/// Fashion-MNIST images into the arena cost ~4 µs and 200 KB of cache per step).
/// </summary>
internal sealed class MemoryPlan
{
    public const int Align = 16;

    public Dictionary<int, Slot> Slots { get; } = new();

    /// <summary>Second outputs (the softmax probabilities kept by the fused softmax cross-entropy).</summary>
    public Dictionary<int, Slot> AuxSlots { get; } = new();

    /// <summary>
    /// Parameter name to (offset, length) in the parameter arena: trainable parameters first, in graph order, then
    /// state that is not trained (running statistics), so that optimizers work on one prefix of the arena.
    /// </summary>
    public List<(string Name, int Offset, int Length, bool Trainable)> ParameterLayout { get; } = new();

    public int FloatsPerSample { get; private set; }

    public int FixedFloats { get; private set; }

    public int ParameterFloats { get; private set; }

    public static int RoundUp(int n) => (n + Align - 1) / Align * Align;

    /// <summary>
    /// The parameter arena's layout: trained parameters first, in the given order, then state that is saved but not
    /// trained; each starts on a 64-byte boundary.
    /// </summary>
    public static List<(string Name, int Offset, int Length, bool Trainable)> LayoutParameters(IEnumerable<(string Name, int Length, bool Trainable)> parameters)
    {
        var all = parameters.ToList();
        var layout = new List<(string, int, int, bool)>();
        int offset = 0;
        foreach (var (name, length, trainable) in all.Where(p => p.Trainable).Concat(all.Where(p => !p.Trainable)))
        {
            layout.Add((name, offset, length, trainable));
            offset += RoundUp(length);
        }
        return layout;
    }

    public static MemoryPlan Build(Graph g, List<Unit> units, IReadOnlyCollection<int> required)
    {
        var plan = new MemoryPlan();
        var nodeOf = g.Parameters.ToDictionary(p => p.Name, p => p.Node, StringComparer.Ordinal);
        plan.ParameterLayout.AddRange(LayoutParameters(g.Parameters.Select(p => (p.Name, g[p.Node].Shape.FixedCount, g[p.Node].Trainable))));
        var paramOffset = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, offset, length, _) in plan.ParameterLayout)
        {
            paramOffset[name] = offset;
            plan.Slots[nodeOf[name]] = new Slot(Region.Parameters, offset, length);
        }
        plan.ParameterFloats = plan.ParameterLayout.Count == 0 ? 0 : plan.ParameterLayout.Max(p => p.Offset + RoundUp(p.Length));
        foreach (var kv in g.Gradients)
            if (kv.Value >= 0) plan.Slots[kv.Value] = new Slot(Region.Gradients, paramOffset[kv.Key], g[kv.Value].Shape.FixedCount);

        // Liveness: a value is born in the unit that computes it and dies after
        // the last unit that reads it; what the program returns stays to the end.
        int end = units.Count;
        var lastUse = new Dictionary<int, int>();
        for (int u = 0; u < units.Count; u++)
            foreach (int i in units[u].Inputs) lastUse[i] = u;
        foreach (int r in required) if (r >= 0) lastUse[r] = end;

        var batched = new Arena();
        var fixedArena = new Arena();
        var frees = new List<(int Dies, int Node)>();
        var auxFrees = new List<(int Dies, int Node)>();
        void Place(int node, int born)
        {
            var n = g[node];
            if (plan.Slots.ContainsKey(node))
            {
                // A value with a fixed home (a parameter's gradient) may still need an Aux buffer: a workspace of the
                // kernel that computes it, free again after that unit.
                if (n.Aux is { } own && !plan.AuxSlots.ContainsKey(node) && born >= 0)
                {
                    plan.AuxSlots[node] = new Slot(own.IsBatched ? Region.Batched : Region.Fixed, (own.IsBatched ? batched : fixedArena).Take(RoundUp(own.FixedCount)), own.FixedCount);
                    auxFrees.Add((born, node));
                }
                return;
            }
            if (n.Op is "Const" or "Labels" or "Input" or "Target") return;
            bool isBatched = n.Shape.IsBatched;
            var arena = isBatched ? batched : fixedArena;
            int length = RoundUp(n.Shape.FixedCount);
            plan.Slots[node] = new Slot(isBatched ? Region.Batched : Region.Fixed, arena.Take(length), n.Shape.FixedCount);
            if (n.Aux is { } aux)
                plan.AuxSlots[node] = new Slot(aux.IsBatched ? Region.Batched : Region.Fixed, (aux.IsBatched ? batched : fixedArena).Take(RoundUp(aux.FixedCount)), aux.FixedCount);
            frees.Add((lastUse.TryGetValue(node, out int dies) ? dies : born, node));
        }
        // An operand of an elementwise loop, in the arena, of the output's shape, with no Aux buffer, read by nothing after
        // the loop: the loop can write its output over it.
        int? Donor(Unit unit, int output, int u)
        {
            foreach (int i in unit.Inputs)
            {
                if (lastUse.TryGetValue(i, out int dies) && dies == u && g[i].Shape.Equals(g[output].Shape) && !plan.AuxSlots.ContainsKey(i)
                    && plan.Slots.TryGetValue(i, out var slot) && slot.Region is Region.Batched or Region.Fixed && frees.Exists(f => f.Node == i))
                    return i;
            }
            return null;
        }
        void FreeDead(int before)
        {
            for (int k = frees.Count - 1; k >= 0; k--)
            {
                if (frees[k].Dies >= before) continue;
                int node = frees[k].Node;
                var slot = plan.Slots[node];
                (slot.Region == Region.Batched ? batched : fixedArena).Free(slot.Offset, RoundUp(slot.Length));
                if (plan.AuxSlots.TryGetValue(node, out var aux))
                    (aux.Region == Region.Batched ? batched : fixedArena).Free(aux.Offset, RoundUp(aux.Length));
                frees.RemoveAt(k);
            }
            for (int k = auxFrees.Count - 1; k >= 0; k--)
            {
                if (auxFrees[k].Dies >= before) continue;
                var aux = plan.AuxSlots[auxFrees[k].Node];
                (aux.Region == Region.Batched ? batched : fixedArena).Free(aux.Offset, RoundUp(aux.Length));
                auxFrees.RemoveAt(k);
            }
        }

        for (int u = 0; u < units.Count; u++)
        {
            FreeDead(u);
            foreach (int o in units[u].Outputs)
            {
                if (units[u].Kind == UnitKind.Elementwise && !plan.Slots.ContainsKey(o) && Donor(units[u], o, u) is int donor)
                {
                    // The loop writes o over an operand of its shape that dies in this unit (the MLP's ReLU gradient over
                    // the ReLU's output): each element is read before it is written, at the same index. A smaller arena
                    // is a smaller working set for the step (the MLP's: 432 -> 304 floats per sample).
                    int k = frees.FindIndex(f => f.Node == donor);
                    plan.Slots[o] = plan.Slots[donor] with { Length = g[o].Shape.FixedCount };
                    frees[k] = (lastUse.TryGetValue(o, out int dies) ? dies : u, o);
                    continue;
                }
                Place(o, u);
            }
            // A node inside a fused unit that stores nothing of its own (a convolution whose activation was fused into
            // it) may still need its Aux workspace, free again after that unit.
            foreach (int id in units[u].Nodes)
            {
                if (units[u].Outputs.Contains(id) || plan.AuxSlots.ContainsKey(id) || g[id].Aux is not { } work) continue;
                plan.AuxSlots[id] = new Slot(work.IsBatched ? Region.Batched : Region.Fixed, (work.IsBatched ? batched : fixedArena).Take(RoundUp(work.FixedCount)), work.FixedCount);
                auxFrees.Add((u, id));
            }
        }
        plan.FloatsPerSample = batched.High;
        plan.FixedFloats = fixedArena.High;
        return plan;
    }

    /// <summary>First-fit allocation over one address range with coalescing of freed blocks.</summary>
    sealed class Arena
    {
        readonly List<(int Offset, int Length)> _free = new();

        public int High { get; private set; }

        public int Take(int length)
        {
            for (int i = 0; i < _free.Count; i++)
            {
                var (o, l) = _free[i];
                if (l < length) continue;
                if (l == length) _free.RemoveAt(i);
                else _free[i] = (o + length, l - length);
                return o;
            }
            // Grow, absorbing a free block that ends at the top.
            if (_free.Count > 0 && _free[_free.Count - 1] is var last && last.Offset + last.Length == High)
            {
                _free.RemoveAt(_free.Count - 1);
                High = last.Offset + length;
                return last.Offset;
            }
            int at = High;
            High += length;
            return at;
        }

        public void Free(int offset, int length)
        {
            _free.Add((offset, length));
            _free.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            for (int i = _free.Count - 2; i >= 0; i--)
            {
                if (_free[i].Offset + _free[i].Length == _free[i + 1].Offset)
                {
                    _free[i] = (_free[i].Offset, _free[i].Length + _free[i + 1].Length);
                    _free.RemoveAt(i + 1);
                }
            }
        }
    }
}
