using System;
using System.Linq;
using System.Reflection;
using ModelGen.Generator.Ops;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// The op table has a column per backend: an elementwise row's scalar template (the CPU's scalar loop and the GPU's
/// generated kernel) and SIMD template (the CPU), a kernel row's runtime kernels (Calls), run by the CPU from
/// ModelGen.Cpu.Kernels / Gemm and by the GPU from ModelGen.Gpu.GpuKernels. This walks every row and fails for an op
/// that one backend cannot run: there is no silent fallback to the host inside a GPU step.
/// </summary>
public class OpTableBackendTests
{
    static readonly Type[] CpuClasses = { typeof(ModelGen.Cpu.Kernels), typeof(ModelGen.Cpu.Gemm) };

    public static TheoryData<string> Rows()
    {
        var data = new TheoryData<string>();
        foreach (var row in OpTable.All) data.Add(row.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void EveryOpRunsOnEveryBackend(string name)
    {
        var row = OpTable.Get(name);
        switch (row.Kind)
        {
            case OpKind.Source:
                return;
            case OpKind.Elementwise:
                Assert.False(string.IsNullOrEmpty(row.Scalar), $"{name} has no scalar template (the GPU kernels and the CPU's scalar loop use it)");
                return;
            default:
                Assert.NotNull(row.Emit);
                Assert.True(row.Calls.Length > 0, $"{name} lists no runtime kernel in its Calls column");
                foreach (var call in row.Calls) CheckMirrored(name, call);
                return;
        }
    }

    /// <summary>The GPU method has the CPU method's name and parameters (after the device), buffers as views, a returned float as a trailing result view.</summary>
    static void CheckMirrored(string op, string call)
    {
        var parts = call.Split('.');
        Assert.Equal(2, parts.Length);
        var cpuType = CpuClasses.SingleOrDefault(t => t.Name == parts[0]);
        Assert.True(cpuType != null, $"{op} calls {call}: {parts[0]} is not a CPU kernel class");
        var cpu = cpuType!.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == parts[1]).ToList();
        Assert.True(cpu.Count > 0, $"{op} calls {call}, which the CPU runtime lacks");
        var gpu = typeof(ModelGen.Gpu.GpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == parts[1]).ToList();
        Assert.True(gpu.Count > 0, $"{op} calls {call}, which the GPU runtime (GpuKernels.{parts[1]}) lacks");
        bool mirrored = cpu.Any(c => gpu.Any(g => Mirrors(c, g)));
        Assert.True(mirrored, $"GpuKernels.{parts[1]} does not mirror {call}: expected (GpuDevice device, {string.Join(", ", cpu[0].GetParameters().Select(p => p.Name))}{(cpu[0].ReturnType == typeof(float) ? ", result" : "")})");
    }

    static bool Mirrors(MethodInfo cpu, MethodInfo gpu)
    {
        var c = cpu.GetParameters();
        var g = gpu.GetParameters();
        bool returns = cpu.ReturnType == typeof(float);
        if (g.Length != c.Length + 1 + (returns ? 1 : 0) || g[0].ParameterType != typeof(ModelGen.Gpu.GpuDevice)) return false;
        for (int i = 0; i < c.Length; i++)
        {
            var (cp, gp) = (c[i], g[i + 1]);
            if (cp.Name != gp.Name) return false;
            bool floatBuffer = cp.ParameterType == typeof(Span<float>) || cp.ParameterType == typeof(ReadOnlySpan<float>);
            if (floatBuffer && gp.ParameterType != typeof(ILGPU.ArrayView<float>)) return false;
        }
        return !returns || g[g.Length - 1].ParameterType == typeof(ILGPU.ArrayView<float>);
    }
}
