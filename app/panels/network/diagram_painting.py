"""Painting the network diagram: cached layers of frame and lines, then columns, inputs, outputs
and the legend."""

from __future__ import annotations

from mlp_studio.app.panels.network.diagram_columns import Column
from mlp_studio.app.panels.network.diagram_images import NEGATIVE, PATCH, POSITIVE, gray_image
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette, QPen, QPixmap


class DiagramPainting:
    """NetworkDiagram's painting (uses its geometry and line styles)."""

    def _invalidate(self) -> None:
        """Something drawn changed: redraw the frame at the next paint."""
        self._frame = None
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.drawPixmap(0, 0, self._frame_layer())
        p.end()

    def _frame_layer(self) -> QPixmap:
        """The whole picture, drawn once per change (hover, dock and window repaints only blit
        it)."""
        ratio = self.devicePixelRatioF()
        frame = self._frame
        if frame is None or frame.size() != self.size() * ratio:
            frame = QPixmap(self.size() * ratio)
            frame.setDevicePixelRatio(ratio)
            p = QPainter(frame)
            p.setFont(self.font())  # a pixmap's painter starts with the application font
            self._paint_frame(p)
            p.end()
            self._frame = frame
        return frame

    def _paint_frame(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        text = pal.color(QPalette.ColorRole.Text)
        faint = QColor(text)
        faint.setAlpha(150)
        for col in self._columns:
            if col.layer == self._selected and col.kind == "hidden":
                fill = QColor(pal.color(QPalette.ColorRole.Highlight))
                fill.setAlpha(40)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(fill)
                p.drawRoundedRect(col.area, 8, 8)
        p.drawPixmap(0, 0, self._line_layer())
        for index, col in enumerate(self._columns):
            self._paint_column(p, index, col, text, faint)
        self._paint_legend(p, faint)

    def _line_layer(self) -> QPixmap:
        """The connections, drawn once per change of weights, size or palette."""
        if self._line_cache is None:
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            p = QPainter(pixmap)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            for key, lines in self._buckets.items():
                colour, width = self.line_style(key)
                pen = QPen(colour, width)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # round caps are ~10x slower
                p.setPen(pen)
                p.drawLines(lines)
            p.end()
            self._line_cache = pixmap
        return self._line_cache

    def _paint_column(self, p: QPainter, index: int, col: Column, text: QColor, faint: QColor):
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        border = QColor(text)
        border.setAlpha(110)
        x = col.cells[0].center().x() if col.cells else col.area.center().x()
        # Titles centred over the column, shortened when columns are tight.
        wide = self._column_step >= 84
        title = col.title if wide or col.kind != "hidden" else f"H{col.layer + 1}"
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        p.setPen(text)
        half = min(70.0, max(self._column_step / 2, 36.0))
        box = QRectF(x - half, 6, 2 * half, 18)
        if col.kind == "input" and col.image is not None:
            box = QRectF(col.image.left(), 6, x + 20 - col.image.left(), 18)
        box.moveLeft(max(box.left(), 2.0))  # keep edge columns' titles inside the widget
        box.moveRight(min(box.right(), self.width() - 2.0))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, title)
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.5))
        p.setFont(small)
        p.setPen(faint)
        sub = col.subtitle if wide or col.kind != "hidden" else col.subtitle.split(" · ")[0]
        p.drawText(box.translated(0, 17), Qt.AlignmentFlag.AlignCenter, sub)
        if col.detail and wide:
            p.drawText(box.translated(0, 31), Qt.AlignmentFlag.AlignCenter, col.detail)
        if col.kind == "input" and self._image_input():
            self._paint_input(p, col, border, base)
            return
        if col.size == 0 and col.kind == "hidden":
            warn = QColor(220, 50, 47)
            p.setPen(QPen(warn, 1.2, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            rect = QRectF(x - 14, col.area.center().y() - 30, 28, 60)
            p.drawRoundedRect(rect, 6, 6)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "0")
            return
        fills = self._fills.get(index)
        radius = col.cells[0].width() * 0.22 if col.cells else 3
        for k, rect in enumerate(col.cells):
            thumb = self._thumbs[k] if index == 1 and k < len(self._thumbs) else None
            p.setPen(QPen(border, 1))
            p.setBrush(fills[k] if fills else base)
            p.drawRoundedRect(rect, radius, radius)
            if thumb is not None:
                p.save()
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
                p.drawImage(rect.adjusted(1, 1, -1, -1), thumb)
                p.restore()
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect, radius, radius)
                if fills:  # the probe's activation as a glow around the weight picture
                    p.setPen(QPen(fills[k], 2.5))
                    p.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), radius, radius)
        if col.gap is not None:
            p.setPen(faint)
            p.setFont(font)
            p.drawText(col.gap, Qt.AlignmentFlag.AlignCenter, "⋮")
        if col.kind == "output":
            self._paint_outputs(p, col, text, faint, small)

    def _paint_input(self, p: QPainter, col: Column, border: QColor, base: QColor) -> None:
        """The probe image with a 4x4 grid, and one mini-map cell per 7x7 patch."""
        n = 28 // PATCH
        highlight = QColor(POSITIVE)
        highlight.setAlpha(170)
        image = gray_image(self._probe_image) if self._probe_image is not None else None
        if col.image is not None:
            rect = col.image
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0) if image is not None else base)
            p.drawRect(rect)
            if image is not None:
                p.drawImage(rect, image)
            grid = QColor(border)
            grid.setAlpha(90 if image is None else 140)
            p.setPen(QPen(grid, 1))
            for k in range(1, n):
                p.drawLine(
                    QPointF(rect.left() + rect.width() * k / n, rect.top()),
                    QPointF(rect.left() + rect.width() * k / n, rect.bottom()),
                )
                p.drawLine(
                    QPointF(rect.left(), rect.top() + rect.height() * k / n),
                    QPointF(rect.right(), rect.top() + rect.height() * k / n),
                )
            p.setPen(QPen(border, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
            if image is None:
                p.setPen(border)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "28×28")
            # A bracket shows that the patch column unfolds the image.
            right = col.cells[0].left() - 6 if col.cells else rect.right() + 10
            p.setPen(QPen(border, 1, Qt.PenStyle.DotLine))
            top, bottom = col.cells[0].top(), col.cells[-1].bottom()
            p.drawLine(QPointF(rect.right() + 3, rect.top()), QPointF(right, top))
            p.drawLine(QPointF(rect.right() + 3, rect.bottom()), QPointF(right, bottom))
        for k, rect in enumerate(col.cells):
            r, c = divmod(col.shown[k], n)
            patch = QRectF(
                rect.left() + rect.width() * c / n,
                rect.top() + rect.height() * r / n,
                rect.width() / n,
                rect.height() / n,
            )
            p.setPen(QPen(border, 1))
            p.setBrush(base)
            p.drawRect(rect)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(highlight)
            p.drawRect(patch)

    def _paint_outputs(self, p: QPainter, col: Column, text: QColor, faint: QColor, small):
        names = self._class_names if len(self._class_names) == col.size else []
        bar_colour = QColor(POSITIVE)
        font = QFont(self.font())
        if col.cells:  # labels no taller than a row, so they never overlap
            row = col.cells[1].top() - col.cells[0].top() if len(col.cells) > 1 else 20.0
            font.setPixelSize(int(max(7.0, min(13.0, row * 0.8))))
        p.setFont(font)
        for k, rect in zip(col.shown, col.cells, strict=True):
            label = names[k] if names else str(k)
            p.setPen(text)
            label_box = QRectF(rect.right() + 6, rect.top() - 4, 44, rect.height() + 8)
            p.drawText(label_box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            if self._probs is not None:
                prob = float(self._probs[k])
                width = 40.0
                left = rect.right() + 6 + min(p.fontMetrics().horizontalAdvance(label) + 6, 46)
                track = QRectF(left, rect.center().y() - 3, width, 6)
                p.setPen(Qt.PenStyle.NoPen)
                back = QColor(faint)
                back.setAlpha(40)
                p.setBrush(back)
                p.drawRoundedRect(track, 3, 3)
                p.setBrush(bar_colour)
                p.drawRoundedRect(QRectF(left, track.top(), width * prob, 6), 3, 3)

    def _paint_legend(self, p: QPainter, faint: QColor) -> None:
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 6.5))
        p.setFont(small)
        y = self.height() - 14.0
        x = 14.0
        for colour, label in ((POSITIVE, "positive"), (NEGATIVE, "negative")):
            p.setPen(QPen(colour, 3))
            p.drawLine(QPointF(x, y), QPointF(x + 18, y))
            p.setPen(faint)
            p.drawText(QPointF(x + 23, y + 4), label)
            x += 30 + p.fontMetrics().horizontalAdvance(label)
        step = f"step {self._step:,}" if self._step is not None else ""
        metrics = p.fontMetrics()
        room = self.width() - 14 - metrics.horizontalAdvance(step) - 16 - (x + 4)
        if self._weights is None:
            notes = ["no weights yet: lines turn coloured when a model exists", "no weights yet"]
        else:
            notes = ["weight; width ∝ |w| per layer", "width ∝ |w|"]
            if self._image_input():
                notes.insert(0, notes[0] + "; input lines sum a 7×7 patch")
        # The longest note that fits (the hover cards explain the rest).
        note = next((n for n in notes if metrics.horizontalAdvance(n) <= room), "")
        p.drawText(QPointF(x + 4, y + 4), note)
        if step:
            p.drawText(QPointF(self.width() - 14 - metrics.horizontalAdvance(step), y + 4), step)
