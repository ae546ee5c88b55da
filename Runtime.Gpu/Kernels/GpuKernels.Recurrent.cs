using System;
using ILGPU;
using ModelGen.Cpu;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

// The recurrent family (LSTM and GRU) on the device. The time loop is sequential: each host method queues one kernel
// per time step, and that kernel fuses the step's recurrent product (h_{t−1}·W_hh forward, dGates_{t+1}·W_hhᵀ backward)
// with the gate arithmetic. A group owns a tile of hidden units × batch rows; the product runs over shared-memory tiles
// of the previous step's row and of W_hh (coalesced loads), so one launch per step does all the work of that step and
// no thread ever reads a value another thread of the same launch writes. The aux buffers (state, carry, work) have the
// CPU kernels' layout, so the forward and backward kernels of either backend can be paired.
public static partial class GpuKernels
{
    /// <summary>
    /// LSTM forward over time from a zero state (gates i, f, g, o): gates_t = xw_t + h_{t−1}·wHh, c_t = f·c_{t−1} + i·g,
    /// h_t = o·tanh(c_t). As <c>ModelGen.Cpu.Kernels.Lstm</c>: state receives the activated gates and c_t (batch × time × 5H).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="xw">x·W_ih + biases, batch × time × 4H.</param>
    /// <param name="wHh">The recurrent weight, H × 4H.</param>
    /// <param name="y">Receives h_t, batch × time × H.</param>
    /// <param name="state">Receives the activated gates and c_t, batch × time × 5H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void Lstm(GpuDevice device, ArrayView<float> xw, ArrayView<float> wHh, ArrayView<float> y, ArrayView<float> state, int batch, int time, int hidden)
    {
        const string op = nameof(Lstm);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        long bt = (long)batch * time, h = hidden;
        RecurrentLaunch.Need(op, nameof(xw), xw, bt * 4 * h, "batch × time × 4·hidden");
        RecurrentLaunch.Need(op, nameof(wHh), wHh, h * 4 * h, "hidden × 4·hidden");
        RecurrentLaunch.Need(op, nameof(y), y, bt * h, "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(state), state, bt * 5 * h, "batch × time × 5·hidden");
        if (bt == 0 || hidden == 0) return;
        var k = device.Kernels(a => new RecurrentKernels(a));
        var config = k.StepConfig(batch, hidden, k.ForwardShared(4));
        var args = new RecurrentStepArgs { Xw = xw, WHh = wHh, Y = y, State = state, Batch = batch, Time = time, Hidden = hidden, Units = k.Units, Rows = k.Rows, UnitTiles = k.UnitTiles(hidden) };
        for (int t = 0; t < time; t++)
        {
            args.Step = t;
            k.LstmStep(device.Stream, config, args);
        }
    }

    /// <summary>
    /// LSTM backward through time, as <c>ModelGen.Cpu.Kernels.LstmBackward</c>: dGates (batch × time × 4H, overwritten)
    /// receives the gradient of the gate pre-activations; <paramref name="carry"/> (batch × 2H: dh then dc per row) ends
    /// with the CPU kernel's final carry.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="wHh">The recurrent weight, H × 4H.</param>
    /// <param name="state">The forward's gates and cell states.</param>
    /// <param name="dy">The gradient of every h_t, batch × time × H.</param>
    /// <param name="dGates">The gate gradient (overwritten).</param>
    /// <param name="carry">Scratch, batch × 2H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void LstmBackward(GpuDevice device, ArrayView<float> wHh, ArrayView<float> state, ArrayView<float> dy, ArrayView<float> dGates, ArrayView<float> carry,
        int batch, int time, int hidden)
    {
        const string op = nameof(LstmBackward);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        long bt = (long)batch * time, h = hidden;
        RecurrentLaunch.Need(op, nameof(wHh), wHh, h * 4 * h, "hidden × 4·hidden");
        RecurrentLaunch.Need(op, nameof(state), state, bt * 5 * h, "batch × time × 5·hidden");
        RecurrentLaunch.Need(op, nameof(dy), dy, bt * h, "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(dGates), dGates, bt * 4 * h, "batch × time × 4·hidden");
        RecurrentLaunch.Need(op, nameof(carry), carry, 2L * batch * h, "batch × 2·hidden");
        if (batch == 0 || hidden == 0) return;
        if (time == 0)
        {
            carry.SubView(0, 2L * batch * h).MemSetToZero(device.Stream);
            return;
        }
        var k = device.Kernels(a => new RecurrentKernels(a));
        var config = k.StepConfig(batch, hidden, k.BackwardShared);
        var args = new RecurrentStepArgs { WHh = wHh, State = state, Dy = dy, DOut = dGates, Work = carry, Batch = batch, Time = time, Hidden = hidden, Units = k.Units, Rows = k.Rows, UnitTiles = k.UnitTiles(hidden) };
        for (int t = time - 1; t >= 0; t--)
        {
            args.Step = t;
            k.LstmBackStep(device.Stream, config, args);
        }
    }

    /// <summary>
    /// The recurrent weight gradient Σ_b Σ_{t≥1} h_{t−1}ᵀ·d_t (H × width, overwritten), as
    /// <c>ModelGen.Cpu.Kernels.RecurrentWeightBackward</c>: a tiled product whose every output sums its rows in (batch, time)
    /// order, so the result is deterministic. Floats of dW past H × width are cleared, as the CPU kernel clears all of dW.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="y">The hidden states, batch × time × H.</param>
    /// <param name="dPre">The gradient of the recurrent pre-activations, rows of <paramref name="width"/> with stride <paramref name="rowsPerBatch"/>·width per batch.</param>
    /// <param name="dW">The weight gradient (overwritten).</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    /// <param name="width">The gate width (4H for LSTM, 3H for GRU).</param>
    /// <param name="rowsPerBatch">Rows of dPre per batch element (time, or time + 1 when a scratch row follows).</param>
    public static void RecurrentWeightBackward(GpuDevice device, ArrayView<float> y, ArrayView<float> dPre, ArrayView<float> dW, int batch, int time, int hidden, int width, int rowsPerBatch)
    {
        const string op = nameof(RecurrentWeightBackward);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        if (width < 0) throw new ArgumentException($"{op}: the width must be non-negative, not {width}.", nameof(width));
        if (rowsPerBatch < time) throw new ArgumentException($"{op}: rowsPerBatch ({rowsPerBatch}) must be at least time ({time}).", nameof(rowsPerBatch));
        long h = hidden, w = width;
        RecurrentLaunch.Need(op, nameof(dW), dW, h * w, "hidden × width");
        if (dW.Length == 0) return;
        if (time < 2 || batch == 0 || hidden == 0 || width == 0)
        {
            dW.MemSetToZero(device.Stream);
            return;
        }
        RecurrentLaunch.Need(op, nameof(y), y, ModelGen.Cpu.Kernels.Elements(batch, time, h), "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(dPre), dPre, ((long)(batch - 1) * rowsPerBatch + time) * w, "((batch − 1)·rowsPerBatch + time) × width");
        var k = device.Kernels(a => new RecurrentKernels(a));
        int T = k.Tile, colTiles = (width + T - 1) / T, rowTiles = (hidden + T - 1) / T;
        var config = new KernelConfig(new Index1D(colTiles * rowTiles), new Index1D(T * T), SharedMemoryConfig.RequestDynamic<float>(2 * T * T));
        k.WeightBackward(device.Stream, config, new RecurrentWeightArgs
        {
            Y = y, DPre = dPre, DW = dW, Batch = batch, Time = time, Hidden = hidden, Width = width, RowsPerBatch = rowsPerBatch, Tile = T, ColTiles = colTiles,
        });
        if (dW.Length > h * w) dW.SubView(h * w, dW.Length - h * w).MemSetToZero(device.Stream);
    }

    /// <summary>
    /// GRU forward over time from a zero state, as <c>ModelGen.Cpu.Kernels.Gru</c> (PyTorch's gates r, z, n):
    /// hw = h_{t−1}·wHh + bHh, r = σ(xw_r + hw_r), z = σ(xw_z + hw_z), n = tanh(xw_n + r·hw_n), h_t = (1 − z)·n + z·h_{t−1};
    /// state receives r, z, n and hw of each step (batch × time × 6H).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="xw">x·W_ih + b_ih, batch × time × 3H.</param>
    /// <param name="wHh">The recurrent weight, H × 3H.</param>
    /// <param name="bHh">The recurrent bias, 3H.</param>
    /// <param name="y">Receives h_t, batch × time × H.</param>
    /// <param name="state">Receives r, z, n and hw of each step, batch × time × 6H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void Gru(GpuDevice device, ArrayView<float> xw, ArrayView<float> wHh, ArrayView<float> bHh, ArrayView<float> y, ArrayView<float> state, int batch, int time, int hidden)
    {
        const string op = nameof(Gru);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        long bt = (long)batch * time, h = hidden;
        RecurrentLaunch.Need(op, nameof(xw), xw, bt * 3 * h, "batch × time × 3·hidden");
        RecurrentLaunch.Need(op, nameof(wHh), wHh, h * 3 * h, "hidden × 3·hidden");
        RecurrentLaunch.Need(op, nameof(bHh), bHh, 3 * h, "3·hidden");
        RecurrentLaunch.Need(op, nameof(y), y, bt * h, "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(state), state, bt * 6 * h, "batch × time × 6·hidden");
        if (bt == 0 || hidden == 0) return;
        var k = device.Kernels(a => new RecurrentKernels(a));
        var config = k.StepConfig(batch, hidden, k.ForwardShared(3));
        var args = new RecurrentStepArgs { Xw = xw, WHh = wHh, BHh = bHh, Y = y, State = state, Batch = batch, Time = time, Hidden = hidden, Units = k.Units, Rows = k.Rows, UnitTiles = k.UnitTiles(hidden) };
        for (int t = 0; t < time; t++)
        {
            args.Step = t;
            k.GruStep(device.Stream, config, args);
        }
    }

    /// <summary>
    /// GRU backward through time, as <c>ModelGen.Cpu.Kernels.GruBackward</c>: dXw (batch × time × 3H, overwritten)
    /// receives the gradient of xw; <paramref name="work"/> (batch × (time + 1) × 3H) receives that of hw in its first
    /// time rows per batch element, and the first H floats of its last row carry dh (the rest of that row is untouched).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="wHh">The recurrent weight, H × 3H.</param>
    /// <param name="y">The forward's hidden states.</param>
    /// <param name="state">The forward's r, z, n, hw.</param>
    /// <param name="dy">The gradient of every h_t.</param>
    /// <param name="dXw">The xw gradient (overwritten).</param>
    /// <param name="work">dHw and the dh carry (overwritten).</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void GruBackward(GpuDevice device, ArrayView<float> wHh, ArrayView<float> y, ArrayView<float> state, ArrayView<float> dy,
        ArrayView<float> dXw, ArrayView<float> work, int batch, int time, int hidden)
    {
        const string op = nameof(GruBackward);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        long bt = (long)batch * time, h = hidden;
        RecurrentLaunch.Need(op, nameof(wHh), wHh, h * 3 * h, "hidden × 3·hidden");
        RecurrentLaunch.Need(op, nameof(y), y, bt * h, "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(state), state, bt * 6 * h, "batch × time × 6·hidden");
        RecurrentLaunch.Need(op, nameof(dy), dy, bt * h, "batch × time × hidden");
        RecurrentLaunch.Need(op, nameof(dXw), dXw, bt * 3 * h, "batch × time × 3·hidden");
        RecurrentLaunch.Need(op, nameof(work), work, (long)batch * (time + 1) * 3 * h, "batch × (time + 1) × 3·hidden");
        if (batch == 0 || hidden == 0) return;
        var k = device.Kernels(a => new RecurrentKernels(a));
        var args = new RecurrentStepArgs { WHh = wHh, Y = y, State = state, Dy = dy, DOut = dXw, Work = work, Batch = batch, Time = time, Hidden = hidden, Units = k.Units, Rows = k.Rows, UnitTiles = k.UnitTiles(hidden) };
        if (time == 0)
        {
            // Only the carries (the first H floats of each batch element's single row) are cleared, as on the CPU.
            args.Step = -1;
            k.GruBackStep(device.Stream, k.StepConfig(batch, hidden, k.BackwardShared), args);
            return;
        }
        var config = k.StepConfig(batch, hidden, k.BackwardShared);
        for (int t = time - 1; t >= 0; t--)
        {
            args.Step = t;
            k.GruBackStep(device.Stream, config, args);
        }
    }

    /// <summary>
    /// The recurrent bias gradient of the GRU: Σ over batch and time of dHw (the first 3H floats of dB, overwritten), as
    /// <c>ModelGen.Cpu.Kernels.GruBiasBackward</c>; a deterministic reduction (fixed partial sums, combined in a fixed order).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="work">The work buffer of <see cref="GruBackward"/>.</param>
    /// <param name="dB">The bias gradient, 3H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void GruBiasBackward(GpuDevice device, ArrayView<float> work, ArrayView<float> dB, int batch, int time, int hidden)
    {
        const string op = nameof(GruBiasBackward);
        RecurrentLaunch.Dims(op, batch, time, hidden);
        long g = 3L * hidden;
        RecurrentLaunch.Need(op, nameof(dB), dB, g, "3·hidden");
        RecurrentLaunch.Need(op, nameof(work), work, ModelGen.Cpu.Kernels.Elements(batch, (long)time + 1, g), "batch × (time + 1) × 3·hidden");
        if (g == 0) return;
        var k = device.Kernels(a => new RecurrentKernels(a));
        int cols = k.ReduceColumns, lanes = k.ReduceLanes, tiles = (int)((g + cols - 1) / cols);
        var config = new KernelConfig(new Index1D(tiles), new Index1D(cols * lanes), SharedMemoryConfig.RequestDynamic<float>(cols * lanes));
        k.BiasBackward(device.Stream, config, new RecurrentBiasArgs { Work = work, DB = dB, Batch = batch, Time = time, Width = (int)g, Columns = cols, Lanes = lanes });
    }
}

/// <summary>Length checks and launch shapes of the recurrent host methods.</summary>
static class RecurrentLaunch
{
    internal static void Dims(string op, int batch, int time, int hidden)
    {
        if (batch < 0 || time < 0 || hidden < 0)
            throw new ArgumentException($"{op}: batch, time and hidden must be non-negative (batch={batch}, time={time}, hidden={hidden}).");
    }

    internal static void Need(string op, string name, ArrayView<float> view, long count, string shape)
    {
        if (view.Length < count)
            throw new ArgumentException($"{op}: {name} has {view.Length} floats but {shape} = {count} are needed.", name);
    }
}

/// <summary>The operands of one time step of a recurrent kernel (the views a step does not use stay empty).</summary>
internal struct RecurrentStepArgs
{
    public ArrayView<float> Xw, WHh, BHh, Y, State, Dy, DOut, Work;
    public int Batch, Time, Hidden, Step, Units, Rows, UnitTiles;
}

/// <summary>The operands of <see cref="GpuKernels.RecurrentWeightBackward"/>'s kernel.</summary>
internal struct RecurrentWeightArgs
{
    public ArrayView<float> Y, DPre, DW;
    public int Batch, Time, Hidden, Width, RowsPerBatch, Tile, ColTiles;
}

/// <summary>The operands of <see cref="GpuKernels.GruBiasBackward"/>'s kernel.</summary>
internal struct RecurrentBiasArgs
{
    public ArrayView<float> Work, DB;
    public int Batch, Time, Width, Columns, Lanes;
}

/// <summary>Up to four gate sums of one (batch row, hidden unit).</summary>
internal struct RecurrentGates
{
    public float I, F, G, O;
}

/// <summary>
/// The recurrent kernels of one device. A step kernel's group is <see cref="Units"/> hidden units × <see cref="Rows"/>
/// batch rows (32 × 8 on a GPU; fewer on ILGPU's CPU accelerator, whose groups hold at most 16 threads); its product
/// walks the reduction in tiles of <see cref="Units"/> through dynamic shared memory.
/// </summary>
sealed class RecurrentKernels
{
    /// <summary>Hidden units per group (and the reduction tile).</summary>
    public readonly int Units;

    /// <summary>Batch rows per group.</summary>
    public readonly int Rows;

    /// <summary>The square output tile of the weight gradient (Tile × Tile threads).</summary>
    public readonly int Tile;

    /// <summary>Columns per group of the bias reduction.</summary>
    public readonly int ReduceColumns;

    /// <summary>Row lanes per column of the bias reduction.</summary>
    public readonly int ReduceLanes;

    public readonly Action<AcceleratorStream, KernelConfig, RecurrentStepArgs> LstmStep, LstmBackStep, GruStep, GruBackStep;
    public readonly Action<AcceleratorStream, KernelConfig, RecurrentWeightArgs> WeightBackward;
    public readonly Action<AcceleratorStream, KernelConfig, RecurrentBiasArgs> BiasBackward;

    public RecurrentKernels(Accelerator a)
    {
        int group = 1;
        while (group * 2 <= Math.Min(256, a.MaxNumThreadsPerGroup)) group *= 2;
        Units = Math.Min(32, group);
        Rows = group / Units;
        int tile = 1;
        while ((tile * 2) * (tile * 2) <= group) tile *= 2;
        Tile = tile;
        ReduceColumns = Units;
        ReduceLanes = Rows;
        LstmStep = a.LoadKernel<RecurrentStepArgs>(LstmStepKernel);
        LstmBackStep = a.LoadKernel<RecurrentStepArgs>(LstmBackStepKernel);
        GruStep = a.LoadKernel<RecurrentStepArgs>(GruStepKernel);
        GruBackStep = a.LoadKernel<RecurrentStepArgs>(GruBackStepKernel);
        WeightBackward = a.LoadKernel<RecurrentWeightArgs>(WeightBackwardKernel);
        BiasBackward = a.LoadKernel<RecurrentBiasArgs>(BiasBackwardKernel);
    }

    public int UnitTiles(int hidden) => (hidden + Units - 1) / Units;

    /// <summary>Shared floats of a forward step with <paramref name="gates"/> gates: the h tile and the W_hh tile.</summary>
    public int ForwardShared(int gates) => Rows * Units + Units * gates * Units;

    /// <summary>Shared floats of a backward step: the gradient tile and the (padded) W_hh tile.</summary>
    public int BackwardShared => Rows * Units + Units * (Units + 1);

    public KernelConfig StepConfig(int batch, int hidden, int sharedFloats) =>
        new(new Index1D(UnitTiles(hidden) * ((batch + Rows - 1) / Rows)), new Index1D(Units * Rows), SharedMemoryConfig.RequestDynamic<float>(sharedFloats));

    // ------------------------------------------------------------------ products

    /// <summary>
    /// Σ_k h_{t−1}[b, k]·wHh[k, q·H + m] for the gates q &lt; <paramref name="gates"/> of this thread's unit m and row b
    /// (zero where b or m lie outside). Every thread of the group must call it (it holds barriers).
    /// </summary>
    static RecurrentGates HiddenProduct(RecurrentStepArgs a, ArrayView<float> shared, int gates, int tid, int u, int bl, int b, int unitTile)
    {
        int U = a.Units, H = a.Hidden, G = gates * H, cols = gates * U, n = U * cols, threads = U * a.Rows;
        var hs = shared.SubView(0, a.Rows * U);
        var ws = shared.SubView(a.Rows * U, n);
        bool rowValid = b < a.Batch;
        int hRow = rowValid ? (b * a.Time + a.Step - 1) * H : 0;
        var s = default(RecurrentGates);
        for (int k0 = 0; k0 < H; k0 += U)
        {
            int k = k0 + u;
            hs[tid] = rowValid && k < H ? a.Y[hRow + k] : 0f;
            for (int i = tid; i < n; i += threads)
            {
                int kk = i / cols, c = i - kk * cols, q = c / U, mm = unitTile * U + c - q * U, kr = k0 + kk;
                ws[i] = kr < H && mm < H ? a.WHh[kr * G + q * H + mm] : 0f;
            }
            Group.Barrier();
            int kEnd = Math.Min(U, H - k0);
            for (int kk = 0; kk < kEnd; kk++)
            {
                float h = hs[bl * U + kk];
                int o = kk * cols + u;
                s.I += h * ws[o];
                s.F += h * ws[o + U];
                s.G += h * ws[o + 2 * U];
                if (gates == 4) s.O += h * ws[o + 3 * U];
            }
            Group.Barrier();
        }
        return s;
    }

    /// <summary>
    /// Σ_j src[row + j]·wHh[m, j] over the G = <paramref name="gates"/>·H columns (a row of gradients times W_hhᵀ) for
    /// this thread's unit m; zero where the row or m lie outside. Every thread of the group must call it (it holds barriers).
    /// </summary>
    static float GradientProduct(RecurrentStepArgs a, ArrayView<float> src, int row, bool rowValid, ArrayView<float> shared, int gates, int tid, int u, int bl, int unitTile)
    {
        int U = a.Units, H = a.Hidden, G = gates * H, P = U + 1, threads = U * a.Rows;
        var gs = shared.SubView(0, a.Rows * U);
        var ws = shared.SubView(a.Rows * U, U * P);
        float s = 0f;
        for (int j0 = 0; j0 < G; j0 += U)
        {
            int j = j0 + u;
            gs[tid] = rowValid && j < G ? src[row + j] : 0f;
            for (int i = tid; i < U * U; i += threads)
            {
                int uu = i / U, jj = i - uu * U, mm = unitTile * U + uu, jc = j0 + jj;
                ws[jj * P + uu] = mm < H && jc < G ? a.WHh[mm * G + jc] : 0f;
            }
            Group.Barrier();
            int jEnd = Math.Min(U, G - j0);
            for (int jj = 0; jj < jEnd; jj++) s += gs[bl * U + jj] * ws[jj * P + u];
            Group.Barrier();
        }
        return s;
    }

    // ------------------------------------------------------------------ LSTM

    static void LstmStepKernel(RecurrentStepArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, U = a.Units, u = tid % U, bl = tid / U;
        int unitTile = Grid.IdxX % a.UnitTiles, m = unitTile * U + u, b = Grid.IdxX / a.UnitTiles * a.Rows + bl;
        int H = a.Hidden, t = a.Step, S = 5 * H;
        var p = t > 0 ? HiddenProduct(a, shared, 4, tid, u, bl, b, unitTile) : default;
        if (b >= a.Batch || m >= H) return;
        int row = b * a.Time + t, x = row * 4 * H + m, s = row * S + m;
        float i = RecurrentMath.Sigmoid(t > 0 ? p.I + a.Xw[x] : a.Xw[x]);
        float f = RecurrentMath.Sigmoid(t > 0 ? p.F + a.Xw[x + H] : a.Xw[x + H]);
        float g = RecurrentMath.Tanh(t > 0 ? p.G + a.Xw[x + 2 * H] : a.Xw[x + 2 * H]);
        float o = RecurrentMath.Sigmoid(t > 0 ? p.O + a.Xw[x + 3 * H] : a.Xw[x + 3 * H]);
        float cPrev = t > 0 ? a.State[s - S + 4 * H] : 0f;
        float c = f * cPrev + i * g;
        a.State[s] = i;
        a.State[s + H] = f;
        a.State[s + 2 * H] = g;
        a.State[s + 3 * H] = o;
        a.State[s + 4 * H] = c;
        a.Y[row * H + m] = o * RecurrentMath.Tanh(c);
    }

    // Work is the carry (batch × 2H: dh, dc); DOut is dGates.
    static void LstmBackStepKernel(RecurrentStepArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, U = a.Units, u = tid % U, bl = tid / U;
        int unitTile = Grid.IdxX % a.UnitTiles, m = unitTile * U + u, b = Grid.IdxX / a.UnitTiles * a.Rows + bl;
        int H = a.Hidden, G = 4 * H, S = 5 * H, t = a.Step;
        bool last = t == a.Time - 1, rowValid = b < a.Batch;
        // dh_t = dGates_{t+1}·wHhᵀ (the CPU's carry after its product of step t + 1); zero at the last step.
        float dhCarry = last ? 0f : GradientProduct(a, a.DOut, rowValid ? (b * a.Time + t + 1) * G : 0, rowValid, shared, 4, tid, u, bl, unitTile);
        if (!rowValid || m >= H) return;
        int row = b * a.Time + t, s = row * S + m, d = row * G + m, c = b * 2 * H + m;
        float i = a.State[s], f = a.State[s + H], g = a.State[s + 2 * H], o = a.State[s + 3 * H], tc = RecurrentMath.Tanh(a.State[s + 4 * H]);
        float cPrev = t > 0 ? a.State[s - S + 4 * H] : 0f;
        float dcCarry = last ? 0f : a.Work[c + H];
        float dhm = dhCarry + a.Dy[row * H + m];
        float dcm = dcCarry + dhm * o * (1f - tc * tc);
        a.DOut[d] = dcm * g * i * (1f - i);
        a.DOut[d + H] = dcm * cPrev * f * (1f - f);
        a.DOut[d + 2 * H] = dcm * i * (1f - g * g);
        a.DOut[d + 3 * H] = dhm * tc * o * (1f - o);
        a.Work[c] = dhCarry;
        a.Work[c + H] = dcm * f;
    }

    // ------------------------------------------------------------------ GRU

    static void GruStepKernel(RecurrentStepArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, U = a.Units, u = tid % U, bl = tid / U;
        int unitTile = Grid.IdxX % a.UnitTiles, m = unitTile * U + u, b = Grid.IdxX / a.UnitTiles * a.Rows + bl;
        int H = a.Hidden, G = 3 * H, S = 6 * H, t = a.Step;
        var p = t > 0 ? HiddenProduct(a, shared, 3, tid, u, bl, b, unitTile) : default;
        if (b >= a.Batch || m >= H) return;
        int row = b * a.Time + t, x = row * G + m, s = row * S + m;
        float hr = t > 0 ? p.I + a.BHh[m] : a.BHh[m];
        float hz = t > 0 ? p.F + a.BHh[H + m] : a.BHh[H + m];
        float hn = t > 0 ? p.G + a.BHh[2 * H + m] : a.BHh[2 * H + m];
        float r = RecurrentMath.Sigmoid(a.Xw[x] + hr), z = RecurrentMath.Sigmoid(a.Xw[x + H] + hz);
        float n = RecurrentMath.Tanh(a.Xw[x + 2 * H] + r * hn);
        float hPrev = t > 0 ? a.Y[(row - 1) * H + m] : 0f;
        a.State[s] = r;
        a.State[s + H] = z;
        a.State[s + 2 * H] = n;
        a.State[s + G] = hr;
        a.State[s + G + H] = hz;
        a.State[s + G + 2 * H] = hn;
        a.Y[row * H + m] = (1f - z) * n + z * hPrev;
    }

    // Work is dHw (batch × (time + 1) × 3H, the last row's first H floats the dh carry); DOut is dXw. Step −1 (time 0)
    // only clears the carries.
    static void GruBackStepKernel(RecurrentStepArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, U = a.Units, u = tid % U, bl = tid / U;
        int unitTile = Grid.IdxX % a.UnitTiles, m = unitTile * U + u, b = Grid.IdxX / a.UnitTiles * a.Rows + bl;
        int H = a.Hidden, G = 3 * H, S = 6 * H, t = a.Step, W = (a.Time + 1) * G;
        bool last = t == a.Time - 1, rowValid = b < a.Batch;
        int carry = b * W + a.Time * G + m;
        if (t < 0)
        {
            if (rowValid && m < H) a.Work[carry] = 0f;
            return;
        }
        // dh_t = dh_{t+1}·z_{t+1} (kept in the carry) + dHw_{t+1}·wHhᵀ; zero at the last step.
        float prod = last ? 0f : GradientProduct(a, a.Work, rowValid ? b * W + (t + 1) * G : 0, rowValid, shared, 3, tid, u, bl, unitTile);
        if (!rowValid || m >= H) return;
        int row = b * a.Time + t, s = row * S + m, dx = row * G + m, dhw = b * W + t * G + m;
        float r = a.State[s], z = a.State[s + H], n = a.State[s + 2 * H], hwn = a.State[s + G + 2 * H];
        float hPrev = t > 0 ? a.Y[(row - 1) * H + m] : 0f;
        float dhm = (last ? 0f : a.Work[carry] + prod) + a.Dy[row * H + m];
        float dn = dhm * (1f - z) * (1f - n * n);
        float dz = dhm * (hPrev - n) * z * (1f - z);
        float dr = dn * hwn * r * (1f - r);
        a.DOut[dx] = dr;
        a.DOut[dx + H] = dz;
        a.DOut[dx + 2 * H] = dn;
        a.Work[dhw] = dr;
        a.Work[dhw + H] = dz;
        a.Work[dhw + 2 * H] = dn * r;
        a.Work[carry] = dhm * z;
    }

    // ------------------------------------------------------------------ weight and bias gradients

    // Output (k, j) of dW = Σ_r y[r_k]ᵀ·dPre[r_j] over the rows r = (b, t), t < time − 1, in (b, t) order; a group owns a
    // Tile × Tile block of dW and walks the rows in tiles of Tile through shared memory.
    static void WeightBackwardKernel(RecurrentWeightArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int T = a.Tile, tid = Group.IdxX, tx = tid % T, ty = tid / T;
        int colTile = Grid.IdxX % a.ColTiles, rowTile = Grid.IdxX / a.ColTiles;
        int H = a.Hidden, W = a.Width, steps = a.Time - 1, rows = a.Batch * steps;
        var ys = shared.SubView(0, T * T);
        var ds = shared.SubView(T * T, T * T);
        int kc = rowTile * T + tx, jc = colTile * T + tx;
        float s = 0f;
        for (int r0 = 0; r0 < rows; r0 += T)
        {
            int r = r0 + ty;
            bool valid = r < rows;
            int b = valid ? r / steps : 0, t = valid ? r - b * steps : 0;
            ys[ty * T + tx] = valid && kc < H ? a.Y[(b * a.Time + t) * H + kc] : 0f;
            ds[ty * T + tx] = valid && jc < W ? a.DPre[(b * a.RowsPerBatch + 1 + t) * W + jc] : 0f;
            Group.Barrier();
            int rEnd = Math.Min(T, rows - r0);
            for (int rr = 0; rr < rEnd; rr++) s += ys[rr * T + ty] * ds[rr * T + tx];
            Group.Barrier();
        }
        int k = rowTile * T + ty, j = colTile * T + tx;
        if (k < H && j < W) a.DW[k * W + j] = s;
    }

    // dB[j] = Σ_{b,t} work[b, t, j]: lane l of a column sums the rows r ≡ l (mod Lanes) in order, then lane 0 adds the
    // lanes' sums in order (a fixed tree, so the result is deterministic).
    static void BiasBackwardKernel(RecurrentBiasArgs a)
    {
        var partial = SharedMemory.GetDynamic<float>();
        int C = a.Columns, tid = Group.IdxX, c = tid % C, lane = tid / C, j = Grid.IdxX * C + c;
        int rows = a.Batch * a.Time, W = (a.Time + 1) * a.Width;
        float s = 0f;
        if (j < a.Width)
        {
            for (int r = lane; r < rows; r += a.Lanes)
            {
                int b = r / a.Time, t = r - b * a.Time;
                s += a.Work[b * W + t * a.Width + j];
            }
        }
        partial[tid] = s;
        Group.Barrier();
        if (lane == 0 && j < a.Width)
        {
            float total = 0f;
            for (int l = 0; l < a.Lanes; l++) total += partial[l * C + c];
            a.DB[j] = total;
        }
    }
}

/// <summary>The CPU's <c>VMath.Tanh</c> and <c>VMath.Sigmoid</c> in kernel code (the same formulas and clamps).</summary>
static class RecurrentMath
{
    const float C3 = -1f / 3f, C5 = 2f / 15f, C7 = -17f / 315f, C9 = 62f / 2835f, C11 = -1382f / 155925f, C13 = 21844f / 6081075f, C15 = -929569f / 638512875f;

    /// <summary>The CPU's <see cref="VMath.Tanh(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    public static float Tanh(float x) => VMath.Tanh(x);

    /// <summary>The CPU's <see cref="VMath.Sigmoid(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    public static float Sigmoid(float x) => VMath.Sigmoid(x);
}
