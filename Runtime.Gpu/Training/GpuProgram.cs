using System;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

/// <summary>
/// A program for a GPU: the generator writes one subclass per model (its <c>GpuProgram</c>) whose step methods take
/// ArrayView slices of the device arenas, run each fused elementwise group as one generated ILGPU kernel and every
/// other op through <see cref="GpuKernels"/>, all queued on the device's stream. Batches reach the device through
/// page-locked staging buffers (two, used in turn, so that the host never refills a buffer a queued copy may still be
/// reading); the host reads back only the loss and the number of correct predictions of a step, or the outputs of an
/// inference. <c>Fit</c> begins a step (<see cref="BeginTrainBatch"/> queues it and returns), gathers the next batch on
/// the host while the device runs it, then finishes it (<see cref="EndTrainBatch"/> waits and reads the two scalars).
/// </summary>
public abstract class GpuProgram : CompiledProgram
{
    readonly MemoryBuffer1D<float, Stride1D.Dense> _activations;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _input;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _targets;
    readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;
    readonly MemoryBuffer1D<int, Stride1D.Dense> _correct;
    readonly PageLockedArray1D<float>[] _inputStaging;
    readonly PageLockedArray1D<float>[] _targetStaging;
    readonly PageLockedArray1D<int>[] _labelStaging;
    readonly PageLockedArray1D<float> _lossStaging;
    readonly PageLockedArray1D<int> _correctStaging;
    int _turn;
    bool _classify;

    /// <summary>Allocates the device activation arena, the batch buffers and their staging buffers.</summary>
    /// <param name="session">The model's state on the device (parameters, gradients, optimizer state).</param>
    /// <param name="maxBatch">The largest batch this program runs.</param>
    /// <param name="floatsPerSample">Arena floats per sample.</param>
    /// <param name="fixedFloats">Arena floats independent of the batch.</param>
    /// <param name="inputSize">Floats of one sample's input.</param>
    /// <param name="outputSize">Floats of one sample's output.</param>
    /// <param name="labelsPerSample">Class labels per sample (0 when the loss takes none).</param>
    /// <param name="targetSize">Floats of one sample's target tensor (0 when the loss takes none).</param>
    protected GpuProgram(GpuSession session, int maxBatch, int floatsPerSample, int fixedFloats, int inputSize, int outputSize, int labelsPerSample, int targetSize)
        : base(session.Parameters, maxBatch, floatsPerSample, fixedFloats)
    {
        Session = session;
        GpuDevice = session.GpuDevice;
        InputSize = inputSize;
        OutputSize = outputSize;
        LabelsPerSample = labelsPerSample;
        TargetSize = targetSize;
        var d = GpuDevice;
        _activations = d.Allocate<float>(checked((long)floatsPerSample * maxBatch + fixedFloats), $"the activation arena ({maxBatch} samples)");
        _input = d.Allocate<float>((long)inputSize * maxBatch, "the input batch");
        _targets = d.Allocate<float>((long)targetSize * maxBatch, "the target batch");
        _labels = d.Allocate<int>((long)labelsPerSample * maxBatch, "the label batch");
        _correct = d.Allocate<int>(1, "the correct-prediction counter");
        var a = d.Accelerator;
        _inputStaging = new[] { a.AllocatePageLocked1D<float>(_input.Length), a.AllocatePageLocked1D<float>(_input.Length) };
        _targetStaging = new[] { a.AllocatePageLocked1D<float>(_targets.Length), a.AllocatePageLocked1D<float>(_targets.Length) };
        _labelStaging = new[] { a.AllocatePageLocked1D<int>(_labels.Length), a.AllocatePageLocked1D<int>(_labels.Length) };
        _lossStaging = a.AllocatePageLocked1D<float>(1);
        _correctStaging = a.AllocatePageLocked1D<int>(1);
    }

    /// <summary>The model's state on the device.</summary>
    public GpuSession Session { get; }

    /// <summary>The device.</summary>
    public GpuDevice GpuDevice { get; }

    /// <inheritdoc/>
    public override Device Device => GpuDevice;

    /// <summary>Floats of one sample's input.</summary>
    public int InputSize { get; }

    /// <summary>Floats of one sample's output.</summary>
    public int OutputSize { get; }

    /// <summary>Labels per sample.</summary>
    public int LabelsPerSample { get; }

    /// <summary>Floats of one sample's target.</summary>
    public int TargetSize { get; }

    /// <summary>The whole device activation arena.</summary>
    protected ArrayView<float> Activations => _activations.View;

    /// <summary>The parameter values on the device (the layout of the host store).</summary>
    protected ArrayView<float> ParameterValues => Session.Values;

    /// <summary>The parameter gradients on the device.</summary>
    protected ArrayView<float> ParameterGradients => Session.Gradients;

    /// <summary>The input batch on the device.</summary>
    protected ArrayView<float> Input => _input.View;

    /// <summary>The target batch on the device.</summary>
    protected ArrayView<float> Targets => _targets.View;

    /// <summary>The label batch on the device.</summary>
    protected ArrayView<int> Labels => _labels.View;

    /// <summary>Runs the inference steps on the batch in <see cref="Input"/> and returns the view of the outputs.</summary>
    protected abstract ArrayView<float> RunInfer(int batch);

    /// <summary>Runs the training steps; returns the view of the loss (one float) and that of the outputs.</summary>
    protected abstract (ArrayView<float> Loss, ArrayView<float> Output) RunTrainStep(int batch);

    /// <summary>Runs the inference steps and the loss on the batch; returns the view of the loss (one float) and that of the outputs.</summary>
    protected abstract (ArrayView<float> Loss, ArrayView<float> Output) RunEvaluateStep(int batch);

    /// <summary>
    /// Loads (compiles for the device, once) a generated elementwise kernel: <paramref name="body"/> runs once per element
    /// with its buffers in <typeparamref name="T"/>.
    /// </summary>
    protected Action<AcceleratorStream, Index1D, T> Load<T>(ref Action<AcceleratorStream, Index1D, T>? slot, Action<Index1D, T> body) where T : struct
    {
        if (slot != null) return slot;
        try
        {
            slot = GpuDevice.Accelerator.LoadAutoGroupedKernel(body);
        }
        catch (Exception e) when (e is not DeviceException)
        {
            throw new DeviceException($"{GpuDevice.Id} {GpuDevice.Name}: the generated kernel {body.Method.Name} failed to compile: {e.Message}", e);
        }
        return slot;
    }

    /// <inheritdoc/>
    public override void Infer(ReadOnlySpan<float> input, int batch, Span<float> output)
    {
        Session.ThrowIfDisposed();
        CheckBatch(batch, input.Length, InputSize);
        if (output.Length != batch * OutputSize) throw new ArgumentException($"Output has {output.Length} floats; a batch of {batch} needs {batch * OutputSize}.", nameof(output));
        UploadBatch(input, default, default, batch);
        var view = RunInfer(batch);
        Download(view, output);
    }

    /// <inheritdoc/>
    public override float EvaluateStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output) =>
        RunStep(input, labels, targets, batch, output, train: false);

    /// <inheritdoc/>
    public override float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output) =>
        RunStep(input, labels, targets, batch, output, train: true);

    /// <summary>A training or evaluation step, waited for: the outputs downloaded (unless empty), the loss read.</summary>
    float RunStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output, bool train)
    {
        var (loss, outputs) = QueueStep(input, labels, targets, batch, output, train);
        if (!output.IsEmpty) Download(outputs, output);
        return ReadLoss(loss);
    }

    /// <summary>
    /// Checks a batch with its labels or targets, queues its upload and the training steps (or, unless
    /// <paramref name="train"/>, the evaluation steps); returns the loss's and the output's views.
    /// </summary>
    (ArrayView<float> Loss, ArrayView<float> Output) QueueStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output, bool train)
    {
        Session.ThrowIfDisposed();
        CheckBatch(batch, input.Length, InputSize);
        CheckTrainingBatch(labels, targets, batch, output);
        UploadBatch(input, labels, targets, batch);
        if (!train) return RunEvaluateStep(batch);
        Steps++;
        return RunTrainStep(batch);
    }

    /// <summary>
    /// Queues one training step of <c>Fit</c>: the batch up, the step, the optimizer update and the count of correct
    /// predictions, all on the device, and the copies of the loss and the count to page-locked memory; returns without
    /// waiting, so the host can gather the next batch meanwhile. <see cref="EndTrainBatch"/> waits and reads the two.
    /// </summary>
    public override void BeginTrainBatch(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch,
        Optimizer optimizer, bool classify, Span<float> outputs)
    {
        var (loss, output) = QueueStep(input, labels, targets, batch, default, train: true);
        Session.OptimizerStep(optimizer);
        StepApplied = true; // queued without waiting for the loss: see CompiledProgram.StepApplied
        var stream = GpuDevice.Stream;
        _classify = classify;
        if (classify)
        {
            _correct.View.MemSetToZero(stream);
            GpuKernels.CountCorrect(GpuDevice, output, Labels.SubView(0, batch), batch, OutputSize, _correct.View);
            _correct.View.CopyToPageLockedAsync(stream, _correctStaging);
        }
        ArrayView1D<float, Stride1D.Dense> lossView = loss.SubView(0, 1);
        lossView.CopyToPageLockedAsync(stream, _lossStaging);
    }

    /// <inheritdoc/>
    public override float EndTrainBatch(out long correct)
    {
        GpuDevice.Synchronize();
        correct = _classify ? _correctStaging[0] : 0;
        return _lossStaging[0];
    }

    void CheckTrainingBatch(ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)
    {
        if (LabelsPerSample > 0 && labels.Length != batch * LabelsPerSample)
            throw new ArgumentException($"{labels.Length} labels for a batch of {batch}.", nameof(labels));
        if (TargetSize > 0 && targets.Length != batch * TargetSize)
            throw new ArgumentException($"Targets have {targets.Length} floats; a batch of {batch} needs {batch * TargetSize}.", nameof(targets));
        if (!output.IsEmpty && output.Length != batch * OutputSize)
            throw new ArgumentException($"Output has {output.Length} floats; a batch of {batch} needs {batch * OutputSize}.", nameof(output));
    }

    /// <summary>Copies a batch into the next staging buffers and queues their copy to the device.</summary>
    void UploadBatch(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch)
    {
        // The staging buffers alternate: the copy queued from one may still be reading it while the host fills the
        // other. A staging buffer is as long as its device buffer and is copied whole (a partial batch leaves rows of
        // an earlier one behind it, which no step reads).
        int turn = _turn;
        _turn ^= 1;
        var stream = GpuDevice.Stream;
        input.CopyTo(_inputStaging[turn].Span);
        _input.View.CopyFromPageLockedAsync(stream, _inputStaging[turn]);
        if (LabelsPerSample > 0 && !labels.IsEmpty)
        {
            labels.CopyTo(_labelStaging[turn].Span);
            _labels.View.CopyFromPageLockedAsync(stream, _labelStaging[turn]);
        }
        if (TargetSize > 0 && !targets.IsEmpty)
        {
            targets.CopyTo(_targetStaging[turn].Span);
            _targets.View.CopyFromPageLockedAsync(stream, _targetStaging[turn]);
        }
    }

    void Download(ArrayView<float> view, Span<float> into)
    {
        ArrayView1D<float, Stride1D.Dense> source = view.SubView(0, into.Length);
        source.CopyToCPU(GpuDevice.Stream, into);
        GpuDevice.Synchronize();
    }

    float ReadLoss(ArrayView<float> loss)
    {
        ArrayView1D<float, Stride1D.Dense> source = loss.SubView(0, 1);
        source.CopyToPageLockedAsync(GpuDevice.Stream, _lossStaging);
        GpuDevice.Synchronize();
        return _lossStaging[0];
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        _activations.Dispose();
        _input.Dispose();
        _targets.Dispose();
        _labels.Dispose();
        _correct.Dispose();
        foreach (var s in _inputStaging) s.Dispose();
        foreach (var s in _targetStaging) s.Dispose();
        foreach (var s in _labelStaging) s.Dispose();
        _lossStaging.Dispose();
        _correctStaging.Dispose();
    }
}
