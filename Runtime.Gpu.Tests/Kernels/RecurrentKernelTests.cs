using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using CpuKernels = ModelGen.Cpu.Kernels;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// The recurrent kernels (LSTM, GRU and their gradients) against the CPU kernels on batch 1/3, time 1/4/9, hidden
/// 1/5/17 (not multiples of the unit or reduction tiles) and one shape that spans several groups and tiles in every
/// direction (batch 9, time 3, hidden 40). Every output and aux buffer is compared; buffers the kernels overwrite start
/// with the same garbage on both sides, so a value left unwritten (or written where the CPU leaves it) is caught.
/// Tolerance: 1e-5 absolute + 1e-4 relative forward, 3e-5 + 2e-4 backward (the products sum in another order than the
/// CPU's GEMM, and the error grows along the time loop).
/// </summary>
public class RecurrentKernelTests
{
    static IEnumerable<(int Batch, int Time, int Hidden)> Shapes()
    {
        foreach (int batch in new[] { 1, 3 })
        foreach (int time in new[] { 1, 4, 9 })
        foreach (int hidden in new[] { 1, 5, 17 })
            yield return (batch, time, hidden);
        yield return (9, 3, 40);
    }

    static GpuDevice Device => GpuTestDevice.Device;

    static float[] Rand(int length, int seed, float scale = 1f) => GpuTestDevice.Random(length, seed, -scale, scale);

    static float[] Copy(float[] a) => (float[])a.Clone();

    static float[] Download(MemoryBuffer1D<float, Stride1D.Dense> buffer, int length) => GpuTestDevice.Download(buffer.View, length);

    static float WeightScale(int hidden) => 1.5f / MathF.Sqrt(hidden);

    [Fact]
    public void Lstm_matches_the_cpu_kernel()
    {
        foreach (var (B, T, H) in Shapes())
        {
            string at = $"Lstm B={B} T={T} H={H} ";
            var xw = Rand(B * T * 4 * H, 1, 2f);
            var w = Rand(H * 4 * H, 2, WeightScale(H));
            var y = Rand(B * T * H, 3);
            var state = Rand(B * T * 5 * H, 4);
            using var dXw = GpuTestDevice.Upload(xw);
            using var dW = GpuTestDevice.Upload(w);
            using var dY = GpuTestDevice.Upload(y);
            using var dState = GpuTestDevice.Upload(state);
            CpuKernels.Lstm(xw, w, y, state, B, T, H);
            GpuKernels.Lstm(Device, dXw.View, dW.View, dY.View, dState.View, B, T, H);
            GpuTestDevice.Close(y, Download(dY, y.Length), what: at + "y");
            GpuTestDevice.Close(state, Download(dState, state.Length), what: at + "state");
        }
    }

    [Fact]
    public void LstmBackward_matches_the_cpu_kernel()
    {
        foreach (var (B, T, H) in Shapes())
        {
            string at = $"LstmBackward B={B} T={T} H={H} ";
            var xw = Rand(B * T * 4 * H, 5, 2f);
            var w = Rand(H * 4 * H, 6, WeightScale(H));
            var y = new float[B * T * H];
            var state = new float[B * T * 5 * H];
            CpuKernels.Lstm(xw, w, y, state, B, T, H);
            var dy = Rand(B * T * H, 7);
            var dGates = Rand(B * T * 4 * H, 8);
            var carry = Rand(B * 2 * H + 3, 9);   // three floats past batch × 2H must stay as they are
            using var gW = GpuTestDevice.Upload(w);
            using var gState = GpuTestDevice.Upload(state);
            using var gDy = GpuTestDevice.Upload(dy);
            using var gDGates = GpuTestDevice.Upload(dGates);
            using var gCarry = GpuTestDevice.Upload(carry);
            CpuKernels.LstmBackward(w, state, dy, dGates, carry, B, T, H);
            GpuKernels.LstmBackward(Device, gW.View, gState.View, gDy.View, gDGates.View, gCarry.View, B, T, H);
            GpuTestDevice.Close(dGates, Download(gDGates, dGates.Length), 3e-5f, 2e-4f, at + "dGates");
            GpuTestDevice.Close(carry, Download(gCarry, carry.Length), 3e-5f, 2e-4f, at + "carry");
        }
    }

    [Fact]
    public void Lstm_forward_and_backward_on_the_device_pair_up()
    {
        // The GPU forward's state feeds the GPU backward, and the chain equals the CPU chain.
        const int B = 3, T = 9, H = 17;
        var xw = Rand(B * T * 4 * H, 10, 2f);
        var w = Rand(H * 4 * H, 11, WeightScale(H));
        var dy = Rand(B * T * H, 12);
        var y = new float[B * T * H];
        var state = new float[B * T * 5 * H];
        var dGates = new float[B * T * 4 * H];
        var carry = new float[B * 2 * H];
        var dW = new float[H * 4 * H];
        CpuKernels.Lstm(xw, w, y, state, B, T, H);
        CpuKernels.LstmBackward(w, state, dy, dGates, carry, B, T, H);
        CpuKernels.RecurrentWeightBackward(y, dGates, dW, B, T, H, 4 * H, T);
        using var gXw = GpuTestDevice.Upload(xw);
        using var gW = GpuTestDevice.Upload(w);
        using var gDy = GpuTestDevice.Upload(dy);
        using var gY = GpuTestDevice.Zeros(y.Length);
        using var gState = GpuTestDevice.Zeros(state.Length);
        using var gDGates = GpuTestDevice.Zeros(dGates.Length);
        using var gCarry = GpuTestDevice.Zeros(carry.Length);
        using var gDW = GpuTestDevice.Zeros(dW.Length);
        GpuKernels.Lstm(Device, gXw.View, gW.View, gY.View, gState.View, B, T, H);
        GpuKernels.LstmBackward(Device, gW.View, gState.View, gDy.View, gDGates.View, gCarry.View, B, T, H);
        GpuKernels.RecurrentWeightBackward(Device, gY.View, gDGates.View, gDW.View, B, T, H, 4 * H, T);
        GpuTestDevice.Close(dGates, Download(gDGates, dGates.Length), 3e-5f, 2e-4f, "chain dGates");
        GpuTestDevice.Close(dW, Download(gDW, dW.Length), 1e-4f, 2e-4f, "chain dW");
    }

    [Fact]
    public void RecurrentWeightBackward_matches_the_cpu_kernel()
    {
        foreach (var (B, T, H) in Shapes())
        foreach (bool gru in new[] { false, true })
        {
            int width = gru ? 3 * H : 4 * H, rowsPerBatch = gru ? T + 1 : T;
            string at = $"RecurrentWeightBackward B={B} T={T} H={H} width={width} rowsPerBatch={rowsPerBatch} ";
            var y = Rand(B * T * H, 13);
            var dPre = Rand(B * rowsPerBatch * width, 14);
            var dW = Rand(H * width + 5, 15);   // the CPU clears all of dW, the five extra floats too
            using var gY = GpuTestDevice.Upload(y);
            using var gDPre = GpuTestDevice.Upload(dPre);
            using var gDW = GpuTestDevice.Upload(dW);
            CpuKernels.RecurrentWeightBackward(y, dPre, dW, B, T, H, width, rowsPerBatch);
            GpuKernels.RecurrentWeightBackward(Device, gY.View, gDPre.View, gDW.View, B, T, H, width, rowsPerBatch);
            GpuTestDevice.Close(dW, Download(gDW, dW.Length), 2e-5f, 1e-4f, at + "dW");
        }
    }

    [Fact]
    public void Gru_matches_the_cpu_kernel()
    {
        foreach (var (B, T, H) in Shapes())
        {
            string at = $"Gru B={B} T={T} H={H} ";
            var xw = Rand(B * T * 3 * H, 16, 2f);
            var w = Rand(H * 3 * H, 17, WeightScale(H));
            var bias = Rand(3 * H, 18, 0.5f);
            var y = Rand(B * T * H, 19);
            var state = Rand(B * T * 6 * H, 20);
            using var gXw = GpuTestDevice.Upload(xw);
            using var gW = GpuTestDevice.Upload(w);
            using var gB = GpuTestDevice.Upload(bias);
            using var gY = GpuTestDevice.Upload(y);
            using var gState = GpuTestDevice.Upload(state);
            CpuKernels.Gru(xw, w, bias, y, state, B, T, H);
            GpuKernels.Gru(Device, gXw.View, gW.View, gB.View, gY.View, gState.View, B, T, H);
            GpuTestDevice.Close(y, Download(gY, y.Length), what: at + "y");
            GpuTestDevice.Close(state, Download(gState, state.Length), what: at + "state");
        }
    }

    [Fact]
    public void GruBackward_and_GruBiasBackward_match_the_cpu_kernels()
    {
        foreach (var (B, T, H) in Shapes())
        {
            string at = $"GruBackward B={B} T={T} H={H} ";
            var xw = Rand(B * T * 3 * H, 21, 2f);
            var w = Rand(H * 3 * H, 22, WeightScale(H));
            var bias = Rand(3 * H, 23, 0.5f);
            var y = new float[B * T * H];
            var state = new float[B * T * 6 * H];
            CpuKernels.Gru(xw, w, bias, y, state, B, T, H);
            var dy = Rand(B * T * H, 24);
            var dXw = Rand(B * T * 3 * H, 25);
            var work = Rand(B * (T + 1) * 3 * H, 26);   // the last row's floats past H must stay as they are
            var dB = Rand(3 * H + 2, 27);               // and the two past 3H too
            using var gW = GpuTestDevice.Upload(w);
            using var gY = GpuTestDevice.Upload(y);
            using var gState = GpuTestDevice.Upload(state);
            using var gDy = GpuTestDevice.Upload(dy);
            using var gDXw = GpuTestDevice.Upload(dXw);
            using var gWork = GpuTestDevice.Upload(work);
            using var gDB = GpuTestDevice.Upload(dB);
            CpuKernels.GruBackward(w, y, state, dy, dXw, work, B, T, H);
            CpuKernels.GruBiasBackward(work, dB, B, T, H);
            GpuKernels.GruBackward(Device, gW.View, gY.View, gState.View, gDy.View, gDXw.View, gWork.View, B, T, H);
            GpuKernels.GruBiasBackward(Device, gWork.View, gDB.View, B, T, H);
            GpuTestDevice.Close(dXw, Download(gDXw, dXw.Length), 3e-5f, 2e-4f, at + "dXw");
            GpuTestDevice.Close(work, Download(gWork, work.Length), 3e-5f, 2e-4f, at + "work");
            GpuTestDevice.Close(dB, Download(gDB, dB.Length), 1e-4f, 2e-4f, at + "dB");
        }
    }

    [Fact]
    public void Gru_forward_and_backward_on_the_device_pair_up()
    {
        const int B = 3, T = 9, H = 17;
        var xw = Rand(B * T * 3 * H, 28, 2f);
        var w = Rand(H * 3 * H, 29, WeightScale(H));
        var bias = Rand(3 * H, 30, 0.5f);
        var dy = Rand(B * T * H, 31);
        var y = new float[B * T * H];
        var state = new float[B * T * 6 * H];
        var dXw = new float[B * T * 3 * H];
        var work = new float[B * (T + 1) * 3 * H];
        var dW = new float[H * 3 * H];
        var dB = new float[3 * H];
        CpuKernels.Gru(xw, w, bias, y, state, B, T, H);
        CpuKernels.GruBackward(w, y, state, dy, dXw, work, B, T, H);
        CpuKernels.RecurrentWeightBackward(y, work, dW, B, T, H, 3 * H, T + 1);
        CpuKernels.GruBiasBackward(work, dB, B, T, H);
        using var gXw = GpuTestDevice.Upload(xw);
        using var gW = GpuTestDevice.Upload(w);
        using var gBias = GpuTestDevice.Upload(bias);
        using var gDy = GpuTestDevice.Upload(dy);
        using var gY = GpuTestDevice.Zeros(y.Length);
        using var gState = GpuTestDevice.Zeros(state.Length);
        using var gDXw = GpuTestDevice.Zeros(dXw.Length);
        using var gWork = GpuTestDevice.Zeros(work.Length);
        using var gDW = GpuTestDevice.Zeros(dW.Length);
        using var gDB = GpuTestDevice.Zeros(dB.Length);
        GpuKernels.Gru(Device, gXw.View, gW.View, gBias.View, gY.View, gState.View, B, T, H);
        GpuKernels.GruBackward(Device, gW.View, gY.View, gState.View, gDy.View, gDXw.View, gWork.View, B, T, H);
        GpuKernels.RecurrentWeightBackward(Device, gY.View, gWork.View, gDW.View, B, T, H, 3 * H, T + 1);
        GpuKernels.GruBiasBackward(Device, gWork.View, gDB.View, B, T, H);
        GpuTestDevice.Close(dXw, Download(gDXw, dXw.Length), 3e-5f, 2e-4f, "chain dXw");
        GpuTestDevice.Close(dW, Download(gDW, dW.Length), 1e-4f, 2e-4f, "chain dW");
        GpuTestDevice.Close(dB, Download(gDB, dB.Length), 1e-4f, 2e-4f, "chain dB");
    }

    [Fact]
    public void An_empty_sequence_clears_the_carries_as_the_cpu_does()
    {
        const int B = 3, H = 5;
        var w4 = Rand(H * 4 * H, 32);
        var w3 = Rand(H * 3 * H, 33);
        var carry = Rand(B * 2 * H, 34);
        var work = Rand(B * 3 * H, 35);
        using var gW4 = GpuTestDevice.Upload(w4);
        using var gW3 = GpuTestDevice.Upload(w3);
        using var gCarry = GpuTestDevice.Upload(carry);
        using var gWork = GpuTestDevice.Upload(work);
        CpuKernels.LstmBackward(w4, Array.Empty<float>(), Array.Empty<float>(), Array.Empty<float>(), carry, B, 0, H);
        CpuKernels.GruBackward(w3, Array.Empty<float>(), Array.Empty<float>(), Array.Empty<float>(), Array.Empty<float>(), work, B, 0, H);
        GpuKernels.LstmBackward(Device, gW4.View, default, default, default, gCarry.View, B, 0, H);
        GpuKernels.GruBackward(Device, gW3.View, default, default, default, default, gWork.View, B, 0, H);
        Assert.Equal(carry, Download(gCarry, carry.Length));
        Assert.Equal(work, Download(gWork, work.Length));
    }

    [Fact]
    public void Short_buffers_are_rejected_before_any_launch()
    {
        using var small = GpuTestDevice.Zeros(3);
        using var big = GpuTestDevice.Zeros(4096);
        var e = Assert.Throws<ArgumentException>(() => GpuKernels.Lstm(Device, small.View, big.View, big.View, big.View, 1, 2, 3));
        Assert.Contains("xw", e.Message);
        e = Assert.Throws<ArgumentException>(() => GpuKernels.GruBackward(Device, big.View, big.View, big.View, big.View, big.View, small.View, 1, 2, 3));
        Assert.Contains("work", e.Message);
        e = Assert.Throws<ArgumentException>(() => GpuKernels.RecurrentWeightBackward(Device, big.View, big.View, big.View, 1, 3, 2, 8, 2));
        Assert.Contains("rowsPerBatch", e.Message);
    }
}
