using System.Collections.Generic;
using System.Linq;
using ModelGen.Runtime.Tests.Compiled;
using Xunit;

namespace ModelGen.Gpu.Tests.Backend;

/// <summary>
/// One suite for every backend: each op family's test models (the cases of <see cref="OracleCases"/>, at odd sizes
/// and batches 1..16) run their compiled training step and inference on <see cref="Device"/> and must agree with the
/// eager oracle on the loss, the outputs, every gradient and every state update, within
/// <see cref="CompiledOracle"/>'s tolerance (2e-4 of each tensor's scale). The CPU and ILGPU's CPU accelerator run it in
/// CI; <c>MODELGEN_GPU_TEST_DEVICE=cuda:0</c> runs the GPU half on a real GPU.
/// </summary>
public abstract class BackendSuite
{
    /// <summary>The device under test.</summary>
    protected abstract Device Device { get; }

    public static IEnumerable<object[]> Names() => OracleCases.All.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledStepAndInferenceMatchTheEagerOracle(string name) =>
        CompiledOracle.TrainStepAndInferMatchEager(OracleCases.All.Single(c => c.Name == name), Device);
}

/// <summary>The backend suite on the CPU (the generated SIMD code).</summary>
public sealed class CpuBackendSuite : BackendSuite
{
    protected override Device Device => ModelGen.Device.Cpu;
}

/// <summary>The backend suite on the GPU test device (ILGPU's CPU accelerator unless MODELGEN_GPU_TEST_DEVICE names a GPU).</summary>
public sealed class GpuBackendSuite : BackendSuite
{
    protected override Device Device => GpuTestDevice.Device;
}
