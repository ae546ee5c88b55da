using System;

namespace ModelGen;

/// <summary>
/// The code the generator emitted for one model on one device (<see cref="CpuProgram"/> for the CPU; the GPU
/// backend's <c>GpuProgram</c>), bound to activation memory for batches of up to <see cref="MaxBatch"/> samples.
/// Buffers are laid out by the generator's memory plan: a buffer of a batched tensor starts at <c>k * batch</c>
/// floats (k fixed at build time), the unbatched ones after all of those, so one plan serves every batch size up
/// to the capacity. Running a step allocates nothing.
/// </summary>
public abstract class CompiledProgram : IDisposable
{
    /// <summary>Binds the program to its parameters and sizes its activation arena (which the backend allocates).</summary>
    /// <param name="parameters">The parameter store the program reads (and whose gradients it writes).</param>
    /// <param name="maxBatch">The largest batch this program runs.</param>
    /// <param name="floatsPerSample">Floats of the arena that scale with the batch, per sample (a multiple of 16).</param>
    /// <param name="fixedFloats">Floats of the arena that do not scale with the batch.</param>
    protected CompiledProgram(ParameterStore parameters, int maxBatch, int floatsPerSample, int fixedFloats)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "A batch holds at least one sample.");
        Parameters = parameters;
        MaxBatch = maxBatch;
        FloatsPerSample = floatsPerSample;
        FixedFloats = fixedFloats;
    }

    /// <summary>The device this program runs on.</summary>
    public virtual Device Device => Device.Cpu;

    /// <summary>The parameters (values and gradients) this program works on.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>The largest batch this program runs.</summary>
    public int MaxBatch { get; }

    /// <summary>Arena floats per sample.</summary>
    public int FloatsPerSample { get; }

    /// <summary>Arena floats independent of the batch.</summary>
    public int FixedFloats { get; }

    /// <summary>
    /// Seeds the randomness of training steps (dropout masks): step <see cref="Steps"/> draws from
    /// (<see cref="Seed"/>, <see cref="Steps"/>), so a run is reproducible and independent of the thread count.
    /// </summary>
    public ulong Seed { get; set; }

    /// <summary>The number of training steps run so far (generated TrainStep counts them).</summary>
    public long Steps { get; protected set; }

    /// <summary>Sets <see cref="Steps"/> (Fit aligns it with the optimizer's step count, so a resumed run draws the same dropout masks).</summary>
    internal void SetSteps(long steps) => Steps = steps;

    /// <summary>Arena bytes for a batch of <see cref="MaxBatch"/>.</summary>
    public long ArenaBytes => ((long)FloatsPerSample * MaxBatch + FixedFloats) * sizeof(float);

    /// <summary>Runs the inference forward pass on <paramref name="batch"/> samples and writes the outputs.</summary>
    /// <param name="input">The inputs, <c>batch x input size</c> floats.</param>
    /// <param name="batch">The number of samples, at most <see cref="MaxBatch"/>.</param>
    /// <param name="output">Receives <c>batch x output size</c> floats.</param>
    public abstract void Infer(ReadOnlySpan<float> input, int batch, Span<float> output);

    /// <summary>
    /// Runs forward, loss and backward on <paramref name="batch"/> samples: overwrites every parameter gradient
    /// with the gradient of the mean loss over the batch and returns that loss. Writes the forward outputs.
    /// </summary>
    /// <param name="input">The inputs, <c>batch x input size</c> floats.</param>
    /// <param name="labels">The labels when the loss takes <see cref="Labels"/>, else empty.</param>
    /// <param name="targets">The targets when the loss takes a tensor, else empty.</param>
    /// <param name="batch">The number of samples, at most <see cref="MaxBatch"/>.</param>
    /// <param name="output">Receives <c>batch x output size</c> floats (for metrics).</param>
    public abstract float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output);

    /// <summary>
    /// Runs the inference pass on <paramref name="batch"/> samples, as <see cref="Infer"/> does (dropout off, running
    /// statistics), then the model's own [Loss] on its outputs, and returns that loss: the number
    /// <see cref="TrainStep"/> would return for a model that behaves the same in training and inference. Writes the
    /// outputs; changes no parameter, gradient or running statistic. <c>Evaluate</c> and the validation loss of
    /// <c>Fit</c> are this loss.
    /// </summary>
    /// <param name="input">The inputs, <c>batch x input size</c> floats.</param>
    /// <param name="labels">The labels when the loss takes <see cref="Labels"/>, else empty.</param>
    /// <param name="targets">The targets when the loss takes a tensor, else empty.</param>
    /// <param name="batch">The number of samples, at most <see cref="MaxBatch"/>.</param>
    /// <param name="output">Receives <c>batch x output size</c> floats (for metrics), or empty.</param>
    public abstract float EvaluateStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output);

    float _queuedLoss;
    long _queuedCorrect;

    /// <summary>
    /// One training step of <c>Fit</c>: <see cref="TrainStep"/>, then <paramref name="optimizer"/>'s update, then the count
    /// of samples whose highest output is their label (when <paramref name="classify"/>). A GPU program does all three
    /// on the device and reads back only the loss and the count. On the CPU a step whose loss (or clipping's gradient
    /// norm) is not finite does not update the parameters (see <see cref="StepApplied"/>). <see cref="BeginTrainBatch"/> and
    /// <see cref="EndTrainBatch"/> split it in two, so that a loop can prepare the next batch while a device runs this one.
    /// </summary>
    /// <param name="input">The inputs.</param>
    /// <param name="labels">The labels, or empty.</param>
    /// <param name="targets">The targets, or empty.</param>
    /// <param name="batch">The number of samples.</param>
    /// <param name="optimizer">The optimizer.</param>
    /// <param name="classify">Whether to count correct predictions.</param>
    /// <param name="outputs">Scratch for the outputs (<c>batch x output size</c> floats) where the count is taken on the host.</param>
    /// <param name="correct">The number of correct predictions.</param>
    /// <returns>The batch's mean loss.</returns>
    public float TrainBatch(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch,
        Optimizer optimizer, bool classify, Span<float> outputs, out long correct)
    {
        BeginTrainBatch(input, labels, targets, batch, optimizer, classify, outputs);
        return EndTrainBatch(out correct);
    }

    /// <summary>
    /// Starts <see cref="TrainBatch"/>: when it returns, the caller may reuse <paramref name="input"/>, <paramref name="labels"/>
    /// and <paramref name="targets"/>, while a device may still be running the step. The CPU runs it whole here.
    /// </summary>
    public virtual void BeginTrainBatch(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch,
        Optimizer optimizer, bool classify, Span<float> outputs)
    {
        _queuedLoss = TrainStep(input, labels, targets, batch, outputs);
        // A non-finite loss (or gradient norm, measured when clipping) would make the update NaN: the update is skipped.
        StepApplied = float.IsFinite(_queuedLoss) && optimizer.StepCore(Parameters, skipNonFinite: true);
        _queuedCorrect = classify ? ModelBase.CountCorrect(outputs, labels, batch, outputs.Length / batch) : 0;
    }

    /// <summary>
    /// Whether the last <see cref="BeginTrainBatch"/> updated the parameters. On the CPU it does not when the step's loss,
    /// or the gradient norm the optimizer measures for <see cref="Optimizer.ClipGradientNorm"/>, is not finite: the
    /// parameters and the optimizer keep their values (the forward pass has still updated batch normalization's running
    /// statistics). A GPU program queues the update without waiting for the loss, so there it is always true.
    /// </summary>
    public bool StepApplied { get; protected set; }

    /// <summary>Finishes the step <see cref="BeginTrainBatch"/> started (waiting for the device) and returns its loss and count.</summary>
    public virtual float EndTrainBatch(out long correct)
    {
        correct = _queuedCorrect;
        return _queuedLoss;
    }

    /// <summary>Releases the program's memory (device memory for a GPU program; nothing to do on the CPU).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the program's memory.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws unless <paramref name="batch"/> fits this program; generated code calls it first.</summary>
    protected void CheckBatch(int batch, int inputLength, int perSampleInput)
    {
        if (batch < 1 || batch > MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(batch), $"Batch {batch} is outside 1..{MaxBatch} of this program.");
        if (inputLength != batch * perSampleInput)
            throw new ArgumentException($"Input has {inputLength} floats; a batch of {batch} needs {batch * perSampleInput}.");
    }
}

/// <summary>
/// A program for the CPU: the activation arena is one aligned host buffer, and the generated code works on Span
/// slices of it and of the parameter store's arenas.
/// </summary>
public abstract class CpuProgram : CompiledProgram
{
    readonly AlignedBuffer _activations;

    /// <summary>Allocates the activation arena for <paramref name="maxBatch"/> samples.</summary>
    /// <param name="parameters">The parameter store the program reads (and whose gradients it writes).</param>
    /// <param name="maxBatch">The largest batch this program runs.</param>
    /// <param name="floatsPerSample">Floats of the arena that scale with the batch, per sample (a multiple of 16).</param>
    /// <param name="fixedFloats">Floats of the arena that do not scale with the batch.</param>
    protected CpuProgram(ParameterStore parameters, int maxBatch, int floatsPerSample, int fixedFloats)
        : base(parameters, maxBatch, floatsPerSample, fixedFloats)
    {
        _activations = new AlignedBuffer(checked((long)floatsPerSample * maxBatch + fixedFloats));
    }

    /// <summary>The whole activation arena.</summary>
    protected Span<float> Activations => _activations.Span;
}
