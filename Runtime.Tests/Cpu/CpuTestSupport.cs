using System;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>Tests that force a SIMD level or change the thread count run one at a time (the settings are process-wide).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuSettingsCollection
{
    public const string Name = "Cpu settings";
}

internal static class CpuTestSupport
{
    public static readonly SimdLevel[] AllLevels = { SimdLevel.Avx512, SimdLevel.Avx2, SimdLevel.Scalar };

    /// <summary>Forces <paramref name="level"/> and checks that Active is that level clamped to what the CPU has.</summary>
    public static IDisposable Force(SimdLevel level)
    {
        IDisposable restore = CpuFeatures.Force(level);
        SimdLevel expected = level < CpuFeatures.Level ? level : CpuFeatures.Level;
        Assert.Equal(expected, CpuFeatures.Active);
        return restore;
    }

    public static float[] Random(Random rng, int length, float scale = 1f)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++)
            a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
